#include "serialize.h"

#include <unordered_map>

#include <ds/core/detail/check.h>

#include "graph.pb.h"

namespace ds::graph {

namespace {

constexpr int32_t kVersion = 1;

void put_attr(const std::string& name, const Attr& a, proto::Attr* out) {
  out->set_name(name);
  struct Visit {
    proto::Attr* o;
    void operator()(NoneAttr) const { o->set_none(true); }
    void operator()(int64_t v) const { o->set_i(v); }
    void operator()(double v) const { o->set_f(v); }
    void operator()(bool v) const { o->set_b(v); }
    void operator()(const Shape& v) const {
      proto::Ints* ints = o->mutable_ints();  // set even when empty (a 0-d shape)
      for (int64_t x : v) ints->add_v(x);
    }
    void operator()(DType v) const { o->set_dtype(std::string(dtype_name(v))); }
    void operator()(Device v) const { o->set_device(v.str()); }
  };
  std::visit(Visit{out}, a);
}

Attr get_attr(const proto::Attr& a) {
  switch (a.value_case()) {
    case proto::Attr::kNone: return NoneAttr{};
    case proto::Attr::kI: return a.i();
    case proto::Attr::kF: return a.f();
    case proto::Attr::kB: return a.b();
    case proto::Attr::kInts: return Shape(a.ints().v().begin(), a.ints().v().end());
    case proto::Attr::kDtype: return dtype_from_name(a.dtype());
    case proto::Attr::kDevice: return Device(a.device());
    case proto::Attr::VALUE_NOT_SET: break;
  }
  DS_FAIL("graph", "attribute '{}' has no value", a.name());
}

OpId op_by_name(const std::string& name) {
  static const std::unordered_map<std::string, OpId> ops = [] {
    std::unordered_map<std::string, OpId> m;
    for (int i = 0; i < kNumPrimitives; ++i)
      m.emplace(std::string(op_name(static_cast<OpId>(i))), static_cast<OpId>(i));
    return m;
  }();
  const auto it = ops.find(name);
  DS_CHECK(it != ops.end(), "graph", "the file names an op '{}' that this build of ds does not have", name);
  return it->second;
}

}  // namespace

// Reads and writes Graph's private parts (a friend of Graph).
struct GraphIo {
  static std::string write(const Graph& g) {
    proto::Graph p;
    p.set_version(kVersion);
    for (const Value& v : g.values_) {
      proto::Value* o = p.add_values();
      o->set_kind(static_cast<proto::Value::Kind>(v.kind));
      for (int64_t s : v.sizes) o->add_sizes(s);
      for (int64_t s : v.strides) o->add_strides(s);
      o->set_offset(v.offset);
      o->set_dtype(std::string(dtype_name(v.dtype)));
      o->set_device(v.device.str());
      o->set_node(v.node);
      o->set_index(v.index);
      o->set_alias(v.alias);
    }
    for (const Node& n : g.nodes_) {
      proto::Node* o = p.add_nodes();
      o->set_op(std::string(op_name(n.op)));
      if (n.attrs.schema()) o->set_attrs_type(std::string(n.attrs.schema()->type_name));
      for (size_t i = 0; i < n.attrs.size(); ++i)
        put_attr(std::string(n.attrs.name(i)), n.attrs.value(i), o->add_attrs());
      for (ValueId v : n.inputs) o->add_inputs(v);
      for (ValueId v : n.outputs) o->add_outputs(v);
      o->set_target(n.target);
      for (int32_t a : n.actions) o->add_actions(a);
    }
    for (ValueId v : g.inputs_) p.add_inputs(v);
    for (ValueId v : g.outputs_) p.add_outputs(v);
    for (ValueId v : g.captured_values_) p.add_captured(v);
    for (ValueId v : g.rng_values_) p.add_rng(v);
    for (const RngDraw& d : g.rng_) p.add_rng_counters(d.counters);
    for (const Action& a : g.actions_) {
      proto::Action* o = p.add_actions();
      o->set_host(static_cast<bool>(a.host));
      o->set_leaf(a.leaf);
      o->set_grad(a.grad);
    }
    for (int32_t a : g.trailing_actions_) p.add_trailing_actions(a);
    p.set_alias_sets(g.alias_sets_);
    return p.SerializeAsString();
  }

  static Graph read(std::string_view bytes, std::span<const Tensor> captured) {
    proto::Graph p;
    DS_CHECK(p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())), "graph",
             "the {} bytes given are not a serialised graph", bytes.size());
    DS_CHECK(p.version() == kVersion, "graph", "the file has graph format version {}; this ds reads version {}",
             p.version(), kVersion);
    Graph g;
    for (const proto::Value& o : p.values()) {
      Value v;
      v.kind = static_cast<ValueKind>(o.kind());
      v.sizes = Shape(o.sizes().begin(), o.sizes().end());
      v.strides = Shape(o.strides().begin(), o.strides().end());
      v.offset = o.offset();
      v.dtype = dtype_from_name(o.dtype());
      v.device = Device(o.device());
      v.node = o.node();
      v.index = o.index();
      v.alias = o.alias();
      g.values_.push_back(std::move(v));
    }
    auto check_value = [&](int32_t v, std::string_view what) {
      DS_CHECK(v >= -1 && v < static_cast<int32_t>(g.values_.size()), "graph", "{} %{} is out of range", what, v);
      return v;
    };
    for (const proto::Node& o : p.nodes()) {
      Node n;
      n.op = op_by_name(o.op());
      const OpDef& def = op_def(n.op);
      const std::string_view want = def.attrs ? def.attrs->type_name : "";
      DS_CHECK(o.attrs_type() == want, "graph", "{} takes attributes {} but the file has {}", def.name,
               want.empty() ? "(none)" : want, o.attrs_type().empty() ? "(none)" : o.attrs_type());
      if (def.attrs) {
        std::vector<std::pair<std::string, Attr>> values;
        for (const proto::Attr& a : o.attrs()) values.emplace_back(a.name(), get_attr(a));
        n.attrs = Attrs::from_values(*def.attrs, values);
      }
      for (int32_t v : o.inputs()) n.inputs.push_back(check_value(v, "an input"));
      for (int32_t v : o.outputs()) n.outputs.push_back(check_value(v, "an output"));
      n.target = check_value(o.target(), "a target");
      for (int32_t a : o.actions()) n.actions.push_back(a);
      g.nodes_.push_back(std::move(n));
    }
    for (int32_t v : p.inputs()) g.inputs_.push_back(check_value(v, "an argument"));
    for (int32_t v : p.outputs()) g.outputs_.push_back(check_value(v, "an output"));
    DS_CHECK(captured.size() == static_cast<size_t>(p.captured_size()), "graph",
             "the graph captures {} tensors but {} were given to bind", p.captured_size(), captured.size());
    for (int i = 0; i < p.captured_size(); ++i) {
      const ValueId v = check_value(p.captured(i), "a captured tensor");
      const Value& want_meta = g.value(v);
      const Tensor& t = captured[static_cast<size_t>(i)];
      DS_CHECK(t.defined() && t.dtype() == want_meta.dtype && t.device() == want_meta.device &&
                   t.sizes() == want_meta.sizes,
               "graph", "captured tensor {} is {}, but the graph was traced with {}", i,
               t.defined() ? std::string(dtype_name(t.dtype())) + " " + shape_str(t.sizes()) : std::string("undefined"),
               type_str(want_meta));
      g.captured_.push_back(t);
      g.captured_values_.push_back(v);
    }
    DS_CHECK(p.rng_size() == p.rng_counters_size(), "graph", "RNG draws and their counter counts differ");
    for (int i = 0; i < p.rng_size(); ++i) {
      g.rng_values_.push_back(check_value(p.rng(i), "an RNG state"));
      g.rng_.push_back({&default_generator(), p.rng_counters(i), default_generator().lifetime()});
    }
    for (const proto::Action& o : p.actions()) {
      Action a;
      if (o.host()) {
        a.host = [] {
          DS_FAIL("graph", "this graph was read from bytes and had host effects, which cannot be stored; trace the "
                           "function again to run it");
        };
      } else {
        a.leaf = check_value(o.leaf(), "a gradient's leaf");
        a.grad = check_value(o.grad(), "a gradient");
      }
      g.actions_.push_back(std::move(a));
    }
    for (int32_t a : p.trailing_actions()) g.trailing_actions_.push_back(a);
    g.alias_sets_ = p.alias_sets();
    g.verify();
    return g;
  }
};

std::string to_bytes(const Graph& g) {
  DS_CHECK(g.host_reads().empty(), "graph", "a graph with a host read cannot be saved: {}", g.host_read_str());
  for (size_t i = 0; i < g.nodes().size(); ++i)
    DS_CHECK(g.nodes()[i].op != OpId::cond && g.nodes()[i].op != OpId::while_loop, "graph", "a graph with control "
             "flow cannot be saved: node {} ({}) runs bodies that are C++ objects of this process", i,
             op_name(g.nodes()[i].op));
  return GraphIo::write(g);
}

Graph from_bytes(std::string_view bytes, std::span<const Tensor> captured) { return GraphIo::read(bytes, captured); }

}  // namespace ds::graph
