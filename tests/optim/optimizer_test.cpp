// The optimizer base: parameter groups, zero_grad, skipped parameters, the state dict (round trip, validation) and
// bitwise resume of every optimizer with a scheduler.
#include <memory>

#include <catch2/catch.hpp>

#include "../test_util.h"
#include "optim_test_util.h"

using namespace ds;
using namespace ds::optim;
using namespace optim_test;
using Catch::Matchers::Contains;

namespace {

// The message of the ds::Error that f throws ("" when it throws nothing, a note when it throws something else).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ds::Error& e) {
    return e.what();
  } catch (...) {
    return "<not a ds::Error>";
  }
  return "";
}

// Equal non-tensor state dict values (same kind, same number).
bool same_number(const StateDict::Value& a, const StateDict::Value& b) {
  if (a.index() != b.index()) return false;
  if (const auto* i = std::get_if<int64_t>(&a)) return *i == std::get<int64_t>(b);
  if (const auto* d = std::get_if<double>(&a)) return *d == std::get<double>(b);
  return false;
}

}  // namespace

TEST_CASE("parameter groups take their own options and the defaults for the rest", "[optim]") {
  Tensor a = param({1, 2}), b = param({2, -4});
  SGD opt({ParamGroup({a}), ParamGroup({b}, {{"lr", 0.01}, {"weight_decay", 0.5}})}, {.lr = 0.1});
  REQUIRE(opt.param_groups().size() == 2);
  CHECK(opt.param_groups()[0].lr() == 0.1);
  CHECK(opt.param_groups()[0].option("weight_decay") == 0);
  CHECK(opt.param_groups()[1].lr() == 0.01);
  CHECK(opt.param_groups()[1].option("momentum") == 0);
  CHECK(opt.param_groups()[1].options.size() == opt.defaults().size());
  set_grad(a, {0.5, -1});
  set_grad(b, {1, 1});
  opt.step();
  // a -= 0.1 * g = [1 - 0.05, 2 + 0.1]; b: d = g + 0.5 b = [2, -1], b -= 0.01 d = [1.98, -3.99].
  CHECK(values(a) == std::vector<double>{0.95, 2.1});
  CHECK(values(b)[0] == Approx(1.98).epsilon(1e-15));
  CHECK(values(b)[1] == Approx(-3.99).epsilon(1e-15));

  // A group added later gets the defaults and the next parameter index.
  Tensor c = param({3});
  opt.add_param_group(ParamGroup({c}, {{"momentum", 0.9}}));
  CHECK(opt.num_params() == 3);
  set_grad(c, {1});
  opt.zero_grad();
  set_grad(c, {1});
  opt.step();
  CHECK(values(c)[0] == Approx(2.9).epsilon(1e-15));
  CHECK(opt.state(2).step == 1);
  CHECK(opt.state(0).step == 1);  // a had no gradient this time: skipped
}

TEST_CASE("invalid options and parameters are errors naming the optimizer", "[optim]") {
  Tensor p = param({1, 2});
  CHECK_THAT(error_of([&] { SGD({p}, {.lr = -1}); }), Contains("[SGD] invalid lr -1 in parameter group 0"));
  CHECK_THAT(error_of([&] { SGD({p}, {.momentum = -0.5}); }), Contains("[SGD] invalid momentum"));
  CHECK_THAT(error_of([&] { SGD({p}, {.momentum = 0, .nesterov = true}); }), Contains("[SGD] Nesterov momentum"));
  CHECK_THAT(error_of([&] { SGD({p}, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}); }),
             Contains("dampening 0.1"));
  CHECK_THAT(error_of([&] { Adam({p}, {.beta2 = 1.0}); }), Contains("[Adam] invalid beta2 1") && Contains("[0, 1)"));
  CHECK_THAT(error_of([&] { Adam({p}, {.beta1 = -0.1}); }), Contains("[Adam] invalid beta1 -0.1"));
  CHECK_THAT(error_of([&] { AdamW({p}, {.eps = -1e-8}); }), Contains("[AdamW] invalid eps"));
  CHECK_THAT(error_of([&] { AdamW({p}, {.lr = -1e-3}); }), Contains("[AdamW] invalid lr"));
  CHECK_THAT(error_of([&] { LAMB({p}, {.beta1 = 1.5}); }), Contains("[LAMB] invalid beta1 1.5"));
  CHECK_THAT(error_of([&] { LAMB({p}, {.weight_decay = -1}); }), Contains("[LAMB] invalid weight_decay"));
  CHECK_THAT(error_of([&] { Lion({p}, {.beta2 = 1.01}); }), Contains("[Lion] invalid beta2 1.01") && Contains("1]"));
  CHECK(error_of([&] { Lion({p}, {.beta2 = 1.0}); }).empty());
  CHECK_THAT(error_of([&] { Adam({p}, {.lr = NAN}); }), Contains("[Adam] invalid lr nan"));

  CHECK_THAT(error_of([&] { SGD({ParamGroup({p}, {{"momentun", 0.9}})}); }),
             Contains("[SGD] parameter group 0 has an unknown option 'momentun'") && Contains("momentum"));
  CHECK_THAT(error_of([&] { SGD({ParamGroup({p}), ParamGroup({p})}); }),
             Contains("[SGD] parameter 0 of group 1") && Contains("more than one parameter group"));
  Tensor q = param({1});
  CHECK_THAT(error_of([&] { Adam({q * 2}); }), Contains("[Adam] parameter 0 of group 0") && Contains("not a leaf"));
  CHECK_THAT(error_of([&] { Adam({tensor({1, 2})}); }), Contains("only floating tensors"));
  CHECK_THAT(error_of([&] { Adam(std::vector<Tensor>{}); }), Contains("[Adam] got an empty parameter list"));
  SGD opt({p});
  CHECK_THAT(error_of([&] { opt.add_param_group(ParamGroup({q}, {{"lr", -2}})); }),
             Contains("[SGD] invalid lr -2 in parameter group 1"));
  CHECK(opt.param_groups().size() == 1);  // the failed group was not added
  CHECK_THAT(error_of([&] { opt.state(5); }), Contains("[SGD] parameter index 5 is out of range"));
  opt.param_groups()[0].params.push_back(q);  // bypassing add_param_group
  CHECK_THAT(error_of([&] { opt.step(); }), Contains("[SGD] the groups hold 2 parameters but the optimizer has state "
                                                     "slots for 1"));
}

TEST_CASE("zero_grad frees or zeroes gradients; parameters without one are skipped", "[optim]") {
  Tensor a = param({1, 2}), b = param({3});
  Adam opt({a, b}, {.lr = 0.1});
  set_grad(a, {1, 1});
  opt.zero_grad(false);
  REQUIRE(a.grad().defined());
  CHECK(values(a.grad()) == std::vector<double>{0, 0});
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());

  set_grad(a, {1, -1});
  opt.step();
  CHECK(values(b) == std::vector<double>{3});  // no gradient: untouched, no state
  CHECK(opt.state(1).empty());
  CHECK(opt.state(0).step == 1);
  const StateDict sd = opt.state_dict();
  CHECK(sd.contains("state.0.exp_avg"));
  CHECK_FALSE(sd.contains("state.1.step"));
  CHECK_FALSE(sd.contains("state.1.exp_avg"));
}

TEST_CASE("zero_grad(false) cuts a gradient made with create_graph from its graph", "[optim]") {
  Tensor x = param({2});
  Tensor y = (x * x * x).sum();
  y.backward(Tensor(), false, true);  // dy/dx = 3x^2 = 12, with history
  REQUIRE(x.grad().requires_grad());
  SGD opt({x}, {.lr = 0.1});
  opt.zero_grad(false);
  CHECK_FALSE(x.grad().requires_grad());
  CHECK(values(x.grad()) == std::vector<double>{0});
}

TEST_CASE("step with a closure re-evaluates the loss with grad mode on", "[optim]") {
  Regression r, ref;
  SGD opt(r.params(), {.lr = 0.1});
  Tensor loss;
  {
    NoGradGuard no_grad;  // the closure must still record its graph
    loss = opt.step([&] {
      opt.zero_grad();
      Tensor l = mse_loss(linear(r.x, r.w, r.b), r.y);
      l.backward();
      return l;
    });
  }
  CHECK(loss.defined());
  SGD opt_ref(ref.params(), {.lr = 0.1});
  const double ref_loss = ref.backward();
  opt_ref.step();
  CHECK(loss.item<double>() == ref_loss);
  CHECK(equal_bits(r.w, ref.w));
  CHECK(equal_bits(r.b, ref.b));
}

TEST_CASE("the state dict names every buffer, step and option, and round-trips bitwise", "[optim]") {
  Tensor a = param({1, 2}), b = param({-1, 0.5, 3});
  Adam opt({ParamGroup({a}), ParamGroup({b}, {{"lr", 0.01}})}, {.lr = 0.1, .amsgrad = true});
  for (int i = 0; i < 2; ++i) {
    set_grad(a, {0.3 * i - 0.1, 0.2});
    set_grad(b, {1, -2, 0.5 * i});
    opt.step();
  }
  const StateDict sd = opt.state_dict();
  CHECK(sd.integer("state.0.step") == 2);
  CHECK(sd.integer("state.1.step") == 2);
  for (const char* name : {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}) {
    CHECK(sd.tensor(std::string("state.0.") + name).sizes() == Shape{2});
    CHECK(sd.tensor(std::string("state.1.") + name).sizes() == Shape{3});
  }
  CHECK(sd.integer("param_groups.0.num_params") == 1);
  CHECK(sd.real("param_groups.0.lr") == 0.1);
  CHECK(sd.real("param_groups.1.lr") == 0.01);
  CHECK(sd.real("param_groups.1.beta2") == 0.999);
  CHECK(sd.real("param_groups.1.amsgrad") == 1);
  CHECK(sd.size() == 2 * 4 + 2 * 8);

  // Into a fresh optimizer over copies of the parameters, made with other options: everything comes from the dict.
  Tensor a2 = a.detach().clone().requires_grad_(), b2 = b.detach().clone().requires_grad_();
  Adam opt2({ParamGroup({a2}), ParamGroup({b2})}, {.lr = 5, .amsgrad = true});
  StateDict copy = deep_copy(sd);
  opt2.load_state_dict(copy);
  const StateDict sd2 = opt2.state_dict();
  REQUIRE(sd2.size() == sd.size());
  for (const auto& [name, v] : sd) {
    INFO(name);
    if (const Tensor* t = std::get_if<Tensor>(&v)) CHECK(equal_bits(*t, sd2.tensor(name)));
    else CHECK(same_number(v, *sd2.find(name)));
  }
  // The loaded buffers are copies: changing the dict afterwards does not reach the optimizer.
  copy.tensor("state.0.exp_avg").detach().fill_(42);
  CHECK(equal_bits(opt2.state_dict().tensor("state.0.exp_avg"), sd.tensor("state.0.exp_avg")));
  // And both continue identically.
  set_grad(a, {0.7, -0.7});
  set_grad(a2, {0.7, -0.7});
  set_grad(b, {0.1, 0.2, 0.3});
  set_grad(b2, {0.1, 0.2, 0.3});
  opt.step();
  opt2.step();
  CHECK(equal_bits(a, a2));
  CHECK(equal_bits(b, b2));
}

TEST_CASE("load_state_dict names what does not fit and changes nothing then", "[optim]") {
  Tensor a = param({1, 2}), b = param({3, 4, 5});
  Adam opt({ParamGroup({a}), ParamGroup({b})}, {.lr = 0.1});
  set_grad(a, {1, 1});
  set_grad(b, {1, 1, 1});
  opt.step();
  const StateDict good = opt.state_dict();
  const auto load_into = [](Optimizer& o, const StateDict& sd) { return error_of([&] { o.load_state_dict(sd); }); };

  Adam one_group({a, b});
  CHECK_THAT(load_into(one_group, good),
             Contains("[Adam] load_state_dict: the state dict has 2 parameter groups, this optimizer has 1"));
  Tensor c = param({6});
  Adam more_params({ParamGroup({a, c}), ParamGroup({b})});
  CHECK_THAT(load_into(more_params, good), Contains("parameter group 0 has 1 parameters in the state dict, 2 here"));
  Tensor a3 = param({1, 2, 3}), b3 = param({3, 4, 5});
  Adam other_shapes({ParamGroup({a3}), ParamGroup({b3})});
  CHECK_THAT(load_into(other_shapes, good),
             Contains("key 'state.0.exp_avg' has shape [2], but parameter 0 has shape [3]"));

  Tensor a2 = param({1, 2}), b2 = param({3, 4, 5});
  Adam target({ParamGroup({a2}), ParamGroup({b2}, {{"lr", 0.5}})});
  const StateDict before = target.state_dict();
  StateDict sd = good;
  sd.erase("state.1.exp_avg_sq");
  CHECK_THAT(load_into(target, sd), Contains("[Adam] load_state_dict: missing key 'state.1.exp_avg_sq'"));
  sd = good;
  sd.erase("param_groups.1.eps");
  CHECK_THAT(load_into(target, sd), Contains("missing key 'param_groups.1.eps'"));
  sd = good;
  sd.erase("state.0.step");
  CHECK_THAT(load_into(target, sd), Contains("missing key 'state.0.step'"));
  sd = good;
  sd.set("state.0.momentum_buffer", zeros({2}, {.dtype = kF64}));
  CHECK_THAT(load_into(target, sd), Contains("unexpected key 'state.0.momentum_buffer'"));
  sd = good;
  sd.set("state.2.step", int64_t{1});
  CHECK_THAT(load_into(target, sd), Contains("'state.2.step' is the state of parameter 2, but the optimizer has 2"));
  sd = good;
  sd.set("param_groups.0.lr", zeros({1}));
  CHECK_THAT(load_into(target, sd), Contains("key 'param_groups.0.lr' holds a tensor, expected a real number"));
  sd = good;
  sd.set("param_groups.0.lr", -1.0);
  CHECK_THAT(load_into(target, sd), Contains("[Adam] invalid lr -1 in parameter group 0"));
  sd = good;
  sd.set("epoch", int64_t{3});
  CHECK_THAT(load_into(target, sd), Contains("unexpected key 'epoch'"));
  // Another optimizer's state: SGD has no amsgrad option.
  SGD sgd({ParamGroup({a2}), ParamGroup({b2})}, {.momentum = 0.9});
  CHECK_THAT(load_into(sgd, good), Contains("[SGD] load_state_dict: unexpected key 'param_groups.0.amsgrad'"));
  // Nothing changed by the failed loads.
  const StateDict after = target.state_dict();
  REQUIRE(after.size() == before.size());
  CHECK(after.real("param_groups.1.lr") == 0.5);
  CHECK(target.state(0).empty());
}

namespace {

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;
using MakeScheduler = std::function<std::unique_ptr<LRScheduler>(Optimizer&)>;

// Trains `total` steps straight, and again with a save after `split` steps into a fresh model, optimizer and
// scheduler: parameters, optimizer state and lrs must agree bit for bit.
void check_resume(const MakeOptimizer& make_opt, const MakeScheduler& make_sched) {
  constexpr int total = 9, split = 4;
  const auto train = [](Regression& r, Optimizer& o, LRScheduler& s, int steps) {
    for (int i = 0; i < steps; ++i) {
      r.backward();
      o.step();
      s.step();
      o.zero_grad();
    }
  };
  Regression straight;
  auto opt_a = make_opt(straight.params());
  auto sched_a = make_sched(*opt_a);
  train(straight, *opt_a, *sched_a, total);

  Regression first;
  StateDict opt_ckpt, sched_ckpt;
  Tensor w, b;
  {
    auto opt_b = make_opt(first.params());
    auto sched_b = make_sched(*opt_b);
    train(first, *opt_b, *sched_b, split);
    opt_ckpt = deep_copy(opt_b->state_dict());
    sched_ckpt = deep_copy(sched_b->state_dict());
    w = first.w.detach().clone();
    b = first.b.detach().clone();
  }
  Regression resumed;  // same data, fresh parameters overwritten from the checkpoint
  resumed.w.detach().copy_(w);
  resumed.b.detach().copy_(b);
  auto opt_c = make_opt(resumed.params());
  auto sched_c = make_sched(*opt_c);
  opt_c->load_state_dict(opt_ckpt);
  sched_c->load_state_dict(sched_ckpt);
  train(resumed, *opt_c, *sched_c, total - split);

  CHECK(equal_bits(straight.w, resumed.w));
  CHECK(equal_bits(straight.b, resumed.b));
  CHECK_FALSE(equal_bits(straight.w, w));  // training moved the weights after the split
  CHECK(sched_a->last_lr() == sched_c->last_lr());
  CHECK(sched_c->last_epoch() == total);
  const StateDict sa = opt_a->state_dict(), sc = opt_c->state_dict();
  REQUIRE(sa.size() == sc.size());
  for (const auto& [name, v] : sa) {
    INFO(name);
    if (const Tensor* t = std::get_if<Tensor>(&v)) CHECK(equal_bits(*t, sc.tensor(name)));
    else CHECK(same_number(v, *sc.find(name)));
  }
}

}  // namespace

TEST_CASE("a run saved and loaded mid-way continues bitwise identically", "[optim]") {
  SECTION("SGD, Nesterov momentum, warmup then cosine decay") {
    check_resume([](auto p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true}); },
                 [](Optimizer& o) { return std::make_unique<WarmupDecayLR>(o, 2, 8, WarmupDecayLR::Decay::Cosine, 1e-3); });
  }
  SECTION("SGD with dampening, exponential decay") {
    check_resume([](auto p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.05, .momentum = 0.8, .dampening = 0.3}); },
                 [](Optimizer& o) { return std::make_unique<ExponentialLR>(o, 0.9); });
  }
  SECTION("Adam with amsgrad and L2, one-cycle") {
    check_resume([](auto p) { return std::make_unique<Adam>(p, AdamOptions{.lr = 0.01, .weight_decay = 0.01, .amsgrad = true}); },
                 [](Optimizer& o) { return std::make_unique<OneCycleLR>(o, 0.05, 9); });
  }
  SECTION("AdamW, cosine annealing") {
    check_resume([](auto p) { return std::make_unique<AdamW>(p, AdamWOptions{.lr = 0.02}); },
                 [](Optimizer& o) { return std::make_unique<CosineAnnealingLR>(o, 9, 1e-4); });
  }
  SECTION("LAMB, step decay") {
    check_resume([](auto p) { return std::make_unique<LAMB>(p, LAMBOptions{.lr = 0.02, .weight_decay = 0.01}); },
                 [](Optimizer& o) { return std::make_unique<StepLR>(o, 3, 0.5); });
  }
  SECTION("Lion, milestones") {
    check_resume([](auto p) { return std::make_unique<Lion>(p, LionOptions{.lr = 1e-3, .weight_decay = 0.1}); },
                 [](Optimizer& o) { return std::make_unique<MultiStepLR>(o, std::vector<int64_t>{2, 5}, 0.3); });
  }
}
