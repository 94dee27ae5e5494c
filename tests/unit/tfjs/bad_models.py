"""Broken and hostile graph models for tfjs_check: each must be refused with a
clear error (naming the file, tensor or node) at the right stage, and never
crash or read out of bounds (the suite also runs under ASan/UBSan). Written
from scratch here, so this test needs neither Node nor the real models."""
import base64
import copy
import json
import os
import struct


def b64(s):
    return base64.b64encode(s.encode()).decode()


def shape_attr(dims):
    return {"dim": [{"size": str(d)} if d else {} for d in dims]}


def const(name, dims, dtype="DT_FLOAT"):
    return {"name": name, "op": "Const",
            "attr": {"value": {"tensor": {"dtype": dtype, "tensorShape": shape_attr(dims)}},
                     "dtype": {"type": dtype}}}


def base_model():
    """x [1,6,6,3] -> _FusedConv2D 3x3 (w, b) -> Reshape([1,-1]) -> out."""
    nodes = [
        {"name": "x", "op": "Placeholder",
         "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": shape_attr([1, 6, 6, 3])}}},
        const("w", [3, 3, 3, 4]),
        const("b", [4]),
        const("shape", [2], "DT_INT32"),
        {"name": "conv", "op": "_FusedConv2D", "input": ["x", "w", "b"],
         "attr": {"strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": {"s": b64("SAME")},
                  "fused_ops": {"list": {"s": [b64("BiasAdd"), b64("Relu")]}},
                  "num_args": {"i": "1"}, "dilations": {"list": {"i": ["1", "1", "1", "1"]}}}},
        {"name": "out", "op": "Reshape", "input": ["conv", "shape"]},
    ]
    weights = [
        {"name": "w", "shape": [3, 3, 3, 4], "dtype": "float32"},
        {"name": "b", "shape": [4], "dtype": "float32"},
        {"name": "shape", "shape": [2], "dtype": "int32"},
    ]
    data = struct.pack("<108f", *[0.01 * i for i in range(108)]) + struct.pack("<4f", 1, 2, 3, 4) \
        + struct.pack("<2i", 1, -1)
    return {"format": "graph-model", "modelTopology": {"node": nodes},
            "weightsManifest": [{"paths": ["weights.bin"], "weights": weights}]}, data


def node(model, name):
    return next(n for n in model["modelTopology"]["node"] if n["name"] == name)


def write_all(out):
    cases = []

    def add(name, model, data, phase, contains, shape=(1, 6, 6, 3), raw_json=None, files=None):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "model.json"), "w") as f:
            f.write(raw_json if raw_json is not None else json.dumps(model))
        if data is not None:
            with open(os.path.join(d, "weights.bin"), "wb") as f:
                f.write(data)
        for fname, content in (files or {}).items():
            with open(os.path.join(d, fname), "wb") as f:
                f.write(content)
        n = 1
        for s in shape:
            n *= s
        with open(os.path.join(d, "input.f32"), "wb") as f:
            if n <= 1 << 20:   # refused before any input is read otherwise
                f.write(struct.pack(f"<{n}f", *([0.5] * n)))
        cases.append({"name": name, "model": f"{name}/model.json",
                      "input": {"file": f"{name}/input.f32", "shape": list(shape)},
                      "outputs": [],
                      "expect_error": {"phase": phase, "contains": contains}})

    m, data = base_model()
    # the unmodified model must load and run (guards the fixtures themselves)
    d = os.path.join(out, "ok")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(m, f)
    with open(os.path.join(d, "weights.bin"), "wb") as f:
        f.write(data)
    with open(os.path.join(d, "input.f32"), "wb") as f:
        f.write(struct.pack("<108f", *([0.5] * 108)))
    cases.append({"name": "ok", "model": "ok/model.json",
                  "input": {"file": "ok/input.f32", "shape": [1, 6, 6, 3]}, "outputs": []})

    add("truncated_shard", m, data[:-5], "load", "truncated")
    add("longer_shard", m, data + b"\0" * 4, "load", "hold 460 bytes but the manifest describes 456")
    add("missing_shard", m, None, "load", "missing")

    bad = copy.deepcopy(m)   # same bytes, shape disagreeing with the node's own
    bad["weightsManifest"][0]["weights"][0]["shape"] = [3, 3, 4, 3]
    add("manifest_shape_vs_node", bad, data, "load", "constant 'w' is [3,3,4,3]")

    bad = copy.deepcopy(m)   # consistent but wrong for the convolution
    bad["weightsManifest"][0]["weights"][0]["shape"] = [3, 3, 4, 3]
    node(bad, "w")["attr"]["value"]["tensor"]["tensorShape"] = shape_attr([3, 3, 4, 3])
    add("filter_shape_mismatch", bad, data, "session", "node 'conv' (_FusedConv2D): filter [3,3,4,3]")

    bad = copy.deepcopy(m)
    node(bad, "conv")["op"] = "FancyConv"
    add("unknown_op", bad, data, "load", "node 'conv' (FancyConv): unsupported op 'FancyConv'")

    bad = copy.deepcopy(m)
    node(bad, "out")["input"][0] = "no_such_node"
    add("missing_input_node", bad, data, "load", "input 'no_such_node' is not a node")

    bad = copy.deepcopy(m)
    node(bad, "out")["input"][0] = "conv:3"
    add("missing_output_port", bad, data, "load", "names output 3")

    add("malformed_json", None, data, "load", "line", raw_json='{"format": "graph-model", "modelTopology": {"node": [}')
    add("not_an_object", None, data, "load", "not a JSON object", raw_json="[1, 2, 3]")
    add("layers_model", None, data, "load", "only TF.js graph models",
        raw_json='{"format": "layers-model", "modelTopology": {}}')
    add("empty_file", None, data, "load", "line", raw_json="")

    bad = copy.deepcopy(m)   # huge declared weight
    bad["weightsManifest"][0]["weights"][0]["shape"] = [100000, 100000, 3, 4]
    add("huge_weight_shape", bad, data, "load", "declares more than")

    bad = copy.deepcopy(m)
    bad["weightsManifest"][0]["weights"][1]["shape"] = [-4]
    add("negative_weight_dim", bad, data, "load", "bad size in its shape")

    bad = copy.deepcopy(m)   # huge placeholder: refused at session time
    node(bad, "x")["attr"]["shape"]["shape"] = shape_attr([1, 200000, 200000, 3])
    add("huge_input_shape", bad, data, "session", "too large", shape=(1, 200000, 200000, 3))

    bad = copy.deepcopy(m)   # input shape the placeholder does not accept
    add("wrong_input_shape", bad, data, "session", "does not fit", shape=(1, 5, 6, 3))

    bad = copy.deepcopy(m)   # a reshape to something absurd
    bad_data = data[:-8] + struct.pack("<2i", 1 << 30, 1 << 30)
    add("huge_reshape", bad, bad_data, "session", "node 'out' (Reshape)")

    bad = copy.deepcopy(m)   # padding that would make a giant tensor
    bad["modelTopology"]["node"].append(const("pads", [4, 2], "DT_INT32"))
    bad["modelTopology"]["node"].append({"name": "padded", "op": "Pad", "input": ["conv", "pads"]})
    bad["weightsManifest"][0]["weights"].append({"name": "pads", "shape": [4, 2], "dtype": "int32"})
    add("huge_pad", bad, data + struct.pack("<8i", 0, 0, 100000, 100000, 100000, 100000, 0, 0),
        "session", "node 'padded' (Pad): output 0 would have more than")

    bad = copy.deepcopy(m)
    bad["weightsManifest"][0]["paths"] = ["../../../etc/passwd"]
    add("shard_path_escapes", bad, data, "load", "not a file name inside the model's folder")

    bad = copy.deepcopy(m)
    bad["weightsManifest"][0]["paths"] = ["/etc/passwd"]
    add("shard_path_absolute", bad, data, "load", "not a file name inside the model's folder")

    bad = copy.deepcopy(m)   # a cycle: conv reads out
    node(bad, "conv")["input"][0] = "out"
    add("cycle", bad, data, "load", "cycle")

    bad = copy.deepcopy(m)
    bad["modelTopology"]["node"].append(copy.deepcopy(node(bad, "out")))
    add("duplicate_node", bad, data, "load", "two nodes are named 'out'")

    bad = copy.deepcopy(m)
    bad["weightsManifest"][0]["weights"][1]["name"] = "other"
    add("const_without_weight", bad, data, "load", "constant 'b' has no data")

    bad = copy.deepcopy(m)
    bad["weightsManifest"][0]["weights"][1]["quantization"] = {"dtype": "int4"}
    add("unknown_quantization", bad, data, "load", "quantization dtype 'int4'")

    bad = copy.deepcopy(m)
    bad["weightsManifest"][0]["weights"][1]["dtype"] = "string"
    add("string_weight", bad, data, "load", "dtype 'string'")

    bad = copy.deepcopy(m)
    del node(bad, "conv")["attr"]["strides"]
    add("missing_strides", bad, data, "load", "node 'conv' (_FusedConv2D): strides")

    bad = copy.deepcopy(m)
    node(bad, "conv")["attr"]["padding"] = {"s": b64("WEIRD")}
    add("bad_padding", bad, data, "load", "padding 'WEIRD'")

    bad = copy.deepcopy(m)
    node(bad, "conv")["attr"]["fused_ops"] = {"list": {"s": [b64("FusedBatchNorm")]}}
    add("unsupported_fusion", bad, data, "load", "fused_ops FusedBatchNorm")

    bad = copy.deepcopy(m)
    node(bad, "conv")["input"] = ["x"]
    add("too_few_inputs", bad, data, "load", "node 'conv' (_FusedConv2D): has 1 inputs")

    bad = copy.deepcopy(m)
    node(bad, "conv")["attr"]["data_format"] = {"s": b64("NCHW")}
    add("nchw_conv", bad, data, "load", "data_format NCHW")

    # runtime failures name the node
    g, gdata = base_model()
    g["modelTopology"]["node"] += [
        const("idx", [2], "DT_INT32"), const("axis", [], "DT_INT32"),
        {"name": "gather", "op": "GatherV2", "input": ["out", "idx", "axis"]},
    ]
    g["weightsManifest"][0]["weights"] += [{"name": "idx", "shape": [2], "dtype": "int32"},
                                           {"name": "axis", "shape": [], "dtype": "int32"}]
    add("gather_out_of_range", g, gdata + struct.pack("<3i", 0, 7, 0), "run",
        "node 'gather' (GatherV2): index 7 at position 1")

    g, gdata = base_model()
    g["modelTopology"]["node"] += [
        const("zero", [], "DT_INT32"),
        {"name": "xi", "op": "Cast", "input": ["out"], "attr": {"DstT": {"type": "DT_INT32"}}},
        {"name": "div", "op": "FloorDiv", "input": ["xi", "zero"]},
    ]
    g["weightsManifest"][0]["weights"].append({"name": "zero", "shape": [], "dtype": "int32"})
    add("int_division_by_zero", g, gdata + struct.pack("<i", 0), "run",
        "node 'div' (FloorDiv): integer division by zero")

    g, gdata = base_model()
    g["modelTopology"]["node"].append({"name": "y", "op": "Placeholder",
                                       "attr": {"dtype": {"type": "DT_FLOAT"}}})
    g["modelTopology"]["node"].append({"name": "sum", "op": "Add", "input": ["out", "y"]})
    add("second_input_needed", g, gdata, "session", "need input 'y'")

    # model.json cut short anywhere is malformed JSON
    text = json.dumps(m)
    for cut in (1, 17, len(text) // 3, len(text) // 2, len(text) - 1):
        add(f"json_cut_{cut}", None, data, "load", "line", raw_json=text[:cut])

    with open(os.path.join(out, "bad.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)
