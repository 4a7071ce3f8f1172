"""Compile flags shared by every target: setup.py's warnings and optimisation plus TensorFlow's."""

load("@local_config_tf//:flags.bzl", "TF_COPTS", "TF_VERSION")

HUGECTR_COPTS = [
    "-O3",
    "-Wall",
    "-Wno-sign-compare",
    "-Wno-unused-function",
    "-Wno-deprecated-declarations",
    # build_info_kernels.cc reports the TensorFlow version the library was built for.
    "-DHUGECTR_TF_BUILT_FOR_TF=\\\"%s\\\"" % TF_VERSION,
] + TF_COPTS
