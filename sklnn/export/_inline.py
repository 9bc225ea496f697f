"""The torch-exported graph of an estimator, inlined into skl2onnx's model."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from sklnn.estimators._export import NotExportableError


def inline(graph, scope, container, input_name: str, output_name: str) -> None:
    """Add ``graph``'s initializers and nodes to skl2onnx's container, every name made
    unique, its input read from ``input_name`` and its output written to ``output_name``."""
    from onnx import helper

    names = {graph.input[0].name: input_name, graph.output[0].name: output_name, "": ""}

    def rename(name: str) -> str:
        if name not in names:
            names[name] = scope.get_unique_variable_name(
                "sklnn_" + re.sub(r"\W+", "_", name).strip("_"))
        return names[name]

    constants = {tensor.name: tensor for tensor in graph.initializer}
    as_matmul = [node for node in graph.node if _matmul_weight(node, constants) is not None]
    used = Counter(name for node in graph.node for name in node.input)
    moved = Counter(node.input[1] for node in as_matmul)
    for tensor in graph.initializer:
        if moved[tensor.name] == used[tensor.name] > 0:
            continue  # only read by Gemms written as MatMul, with their own copy
        copy = type(tensor)()
        copy.CopyFrom(tensor)
        copy.name = rename(tensor.name)
        container.initializers.append(copy)
    for node in graph.node:
        if any(node is other for other in as_matmul):
            _write_matmul(node, _matmul_weight(node, constants), rename, scope, container)
            continue
        attributes = {}
        for attribute in node.attribute:
            if attribute.type in (attribute.GRAPH, attribute.GRAPHS):
                raise NotExportableError(
                    f"The exported network holds a {node.op_type} node with a subgraph "
                    "(Python control flow turned into ONNX control flow), which sklnn "
                    "cannot inline; remove the data-dependent branch or loop.")
            attributes[attribute.name] = helper.get_attribute_value(attribute)
        inputs = [rename(n) for n in node.input]
        while inputs and not inputs[-1]:
            inputs.pop()  # an optional input left out at the end needs no name
        if "" in inputs:
            inputs = _full_lengths(node, inputs, scope, container)
        container.add_node(
            node.op_type, inputs, [rename(n) for n in node.output],
            op_domain=node.domain, name=scope.get_unique_operator_name("Sklnn" + node.op_type),
            **attributes)


def _matmul_weight(node, constants: dict) -> np.ndarray | None:
    """The (in, out) weights of a linear layer's ``Gemm`` (constant weights, alpha = beta
    = 1), which is written as ``MatMul`` and ``Add`` instead: the same values, and
    onnxruntime ran the MNIST MLP's 100,000 rows about 4% faster so."""
    from onnx import helper, numpy_helper

    if node.op_type != "Gemm" or len(node.input) != 3 or node.input[1] not in constants:
        return None
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if (attributes.get("alpha", 1.0) != 1.0 or attributes.get("beta", 1.0) != 1.0
            or attributes.get("transA", 0)):
        return None
    weight = numpy_helper.to_array(constants[node.input[1]])
    return np.ascontiguousarray(weight.T if attributes.get("transB", 0) else weight)


def _write_matmul(node, weight: np.ndarray, rename, scope, container) -> None:
    from onnx import numpy_helper

    name = scope.get_unique_variable_name("sklnn_weight")
    container.initializers.append(numpy_helper.from_array(weight, name))
    product = scope.get_unique_variable_name("sklnn_matmul")
    container.add_node("MatMul", [rename(node.input[0]), name], [product],
                       name=scope.get_unique_operator_name("SklnnMatMul"))
    container.add_node("Add", [product, rename(node.input[2])], [rename(node.output[0])],
                       name=scope.get_unique_operator_name("SklnnAdd"))


def _full_lengths(node, inputs: list[str], scope, container) -> list[str]:
    """A recurrent node's inputs with its optional ``sequence_lens`` (left out by torch:
    every sequence runs over all steps) given as that: skl2onnx cannot order a graph
    whose nodes have an empty input name before others."""
    from onnx import TensorProto

    if node.op_type not in ("LSTM", "GRU", "RNN") or inputs.index("") != 4 or (
            "" in inputs[5:]):
        raise NotExportableError(
            f"The exported network has a {node.op_type} node with an optional input left "
            "out before others, which skl2onnx cannot place in a graph.")
    names = {key: scope.get_unique_variable_name(f"sklnn_{key}")
             for key in ("shape", "steps", "batch", "steps32", "lengths", "i0", "i1")}
    container.add_initializer(names["i0"], TensorProto.INT64, [1], [0])
    container.add_initializer(names["i1"], TensorProto.INT64, [1], [1])
    container.add_node("Shape", [inputs[0]], [names["shape"]],
                       name=scope.get_unique_operator_name("SklnnShape"))
    for key, index in (("steps", "i0"), ("batch", "i1")):  # X is (steps, batch, features)
        container.add_node("Gather", [names["shape"], names[index]], [names[key]], axis=0,
                           name=scope.get_unique_operator_name("SklnnGather"))
    container.add_node("Cast", [names["steps"]], [names["steps32"]], to=TensorProto.INT32,
                       name=scope.get_unique_operator_name("SklnnCast"))
    container.add_node("Expand", [names["steps32"], names["batch"]], [names["lengths"]],
                       name=scope.get_unique_operator_name("SklnnExpand"))
    return [*inputs[:4], names["lengths"], *inputs[5:]]
