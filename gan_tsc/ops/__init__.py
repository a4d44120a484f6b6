"""Array operations and layers below the models.

Every layer that computes a standard layer another way (ops/conv.py,
ops/patch_conv.py, ops/upsample_conv.py) runs inside a JAX name scope of
this name, so that gan_tsc/step_cost.py can tell from a traced step whether
its FLOPs are the model's or must be counted again with standard layers.
"""

FAST_PATH_SCOPE = "nonstandard_layer"
