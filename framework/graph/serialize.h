#pragma once
// The graph IR through Protocol Buffers (graph.proto): every node by op name with its attributes by field name,
// every value with its metadata. What cannot be stored is bound when reading: the captured tensors (by position,
// checked against the stored metadata), the generator of RNG draws (the default one), and host effects, which come
// back as markers that throw when run (a graph with host effects must be traced again to run).
#include <span>
#include <string>
#include <string_view>

#include <ds/graph/ir.h>

namespace ds::graph {

std::string to_bytes(const Graph& g);
// Throws a ds::Error ("[graph] ...") naming what is wrong: bytes that do not parse, an unknown op or attribute, a
// captured tensor that differs from the one traced.
Graph from_bytes(std::string_view bytes, std::span<const Tensor> captured);

}  // namespace ds::graph
