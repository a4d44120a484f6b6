"""The errors a user can fix: a config, a path, a file, a workdir.

Every error of this family says what is wrong and what to do in its message;
the launcher prints that message as one line (no traceback unless --debug),
so a library raises one of these only where the cause is the user's input,
never for a bug.
"""


class UserError(Exception):
  """A problem with what the user gave; its message is the whole report."""


class ConfigError(UserError, ValueError):
  """A config value that cannot work (named by its key, with the allowed range)."""


class WorkdirError(UserError):
  """A workdir that holds other work, or that another run is using."""
