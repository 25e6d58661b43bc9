// Every collective of ProcessGroup against values worked out by hand, on every dtype, odd sizes, subgroups and the
// device mesh; argument errors; Work timeouts; byte accounting. Runs on 2 and 4 ranks ([mpi]) and, for the world
// of one process, without MPI ([world1]).
#include <chrono>
#include <map>
#include <thread>

#include <catch2/catch.hpp>

#include <ds/distributed/device_mesh.h>
#include <ds/distributed/init.h>
#include <ds/ds.h>

using namespace ds;
using dist::ReduceOp;

namespace {

const std::vector<DType> kAllDTypes = {kF32, kF64, kF16, kBF16, kI64, kI32, kI8, kU8, kBool};

// Value of element i on rank r: small integers, exact in every dtype (bool: a pattern of both values).
double value(DType dt, int r, int64_t i) {
  if (dt == kBool) return ((i + r) % 3) == 0 ? 1 : 0;
  return static_cast<double>((i % 5) + 1 + r);
}

Tensor make(DType dt, int r, int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = value(dt, r, i);
  return from_vector(v).to(dt);
}

double at(const Tensor& t, int64_t i) { return read_element(t, i); }

}  // namespace

TEST_CASE("allreduce sums, averages, maxes and mins every dtype", "[mpi]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  for (DType dt : kAllDTypes) {
    for (int64_t len : {1, 7, 1023}) {
      for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax, ReduceOp::kMin}) {
        if (op == ReduceOp::kAvg && !is_floating(dt)) continue;
        INFO(dtype_name(dt) << " n=" << len << " " << dist::reduce_op_name(op));
        Tensor t = make(dt, me, len);
        world->allreduce(t, op)->wait();
        int bad = 0;
        for (int64_t i = 0; i < len; ++i) {
          double want = 0;
          if (dt == kBool) {
            bool any = false, all = true;
            for (int r = 0; r < n; ++r) {
              any |= value(dt, r, i) != 0;
              all &= value(dt, r, i) != 0;
            }
            want = op == ReduceOp::kMin ? all : any;
          } else {
            double sum = 0, mx = -1e9, mn = 1e9;
            for (int r = 0; r < n; ++r) {
              sum += value(dt, r, i);
              mx = std::max(mx, value(dt, r, i));
              mn = std::min(mn, value(dt, r, i));
            }
            want = op == ReduceOp::kSum ? sum : op == ReduceOp::kAvg ? sum / n : op == ReduceOp::kMax ? mx : mn;
          }
          const double tol = dt == kBF16 ? 1e-2 * std::abs(want) : dt == kF16 ? 1e-3 * std::abs(want) : 1e-12;
          if (std::abs(at(t, i) - want) > tol && bad++ < 3)
            FAIL_CHECK("element " << i << ": " << at(t, i) << " vs " << want);
        }
        CHECK(bad == 0);
      }
    }
  }
}

TEST_CASE("broadcast and reduce from every root", "[mpi]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  for (DType dt : {kF32, kF16, kI64, kBool}) {
    for (int root = 0; root < n; ++root) {
      Tensor t = make(dt, me, 5);
      world->broadcast(t, root)->wait();
      for (int64_t i = 0; i < 5; ++i) CHECK(at(t, i) == value(dt, root, i));
      if (dt == kBool) continue;
      Tensor u = make(dt, me, 5);
      world->reduce(u, root, ReduceOp::kSum)->wait();
      for (int64_t i = 0; i < 5; ++i) {
        double sum = 0;
        for (int r = 0; r < n; ++r) sum += value(dt, r, i);
        CHECK(at(u, i) == (me == root ? sum : value(dt, me, i)));  // elsewhere left as it was
      }
    }
  }
}

TEST_CASE("allgather, reduce_scatter and all_to_all place blocks by rank", "[mpi]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  const int64_t b = 3;
  // allgather: block r of the output is rank r's input.
  Tensor in = full({b}, me + 1.0);
  Tensor out = empty({n, b});
  world->allgather(out, in)->wait();
  for (int r = 0; r < n; ++r)
    for (int64_t i = 0; i < b; ++i) CHECK(out[r][i].item<float>() == r + 1.0f);
  // allgather_v: rank r contributes r + 1 elements equal to 10 r + i.
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (int r = 0; r < n; ++r) counts.push_back(r + 1), total += r + 1;
  Tensor mine = arange(me + 1, TensorOptions{.dtype = kF64}) + 10.0 * me;  // 10 me, 10 me + 1, ...
  Tensor gathered = empty({total}, {.dtype = kF64});
  world->allgather_v(gathered, mine, counts)->wait();
  int64_t k = 0;
  for (int r = 0; r < n; ++r)
    for (int64_t i = 0; i <= r; ++i) CHECK(at(gathered, k++) == 10.0 * r + i);
  // reduce_scatter: block j on rank r is 10 r + j; rank j gets sum_r (10 r + j).
  Tensor blocks = empty({n, b}, {.dtype = kI32});
  for (int j = 0; j < n; ++j) blocks[j].fill_(10 * me + j);
  Tensor mine_sum = empty({b}, {.dtype = kI32});
  world->reduce_scatter(mine_sum, blocks, ReduceOp::kSum)->wait();
  const int want = 10 * n * (n - 1) / 2 + n * me;
  for (int64_t i = 0; i < b; ++i) CHECK(at(mine_sum, i) == want);
  // reduce_scatter_v with uneven counts (the same counts as above), averaged.
  Tensor flat = full({total}, static_cast<double>(me), {.dtype = kF64});
  Tensor part = empty({me + 1}, {.dtype = kF64});
  world->reduce_scatter_v(part, flat, counts, ReduceOp::kAvg)->wait();
  for (int64_t i = 0; i <= me; ++i) CHECK(at(part, i) == Approx((n - 1) / 2.0));
  // all_to_all: block j of rank r's input is 100 r + j; block j of rank r's output is 100 j + r.
  Tensor send = empty({n * b}, {.dtype = kI64});
  for (int j = 0; j < n; ++j) send.narrow(0, j * b, b).fill_(100 * me + j);
  Tensor recv = empty({n * b}, {.dtype = kI64});
  world->all_to_all(recv, send)->wait();
  for (int j = 0; j < n; ++j) CHECK(at(recv, j * b) == 100 * j + me);
}

TEST_CASE("send and recv pass a ring, in order and by tag", "[mpi]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  const int next = (me + 1) % n, prev = (me + n - 1) % n;
  std::vector<dist::WorkPtr> works;
  Tensor a = full({4}, me * 1.0), b = full({2}, me * 2.0, {.dtype = kF64});
  Tensor ra = empty({4}), rb = empty({2}, {.dtype = kF64});
  if (me % 2 == 0) {
    works.push_back(world->send(a, next, 1));
    works.push_back(world->send(b, next, 2));
    works.push_back(world->recv(ra, prev, 1));
    works.push_back(world->recv(rb, prev, 2));
  } else {
    works.push_back(world->recv(ra, prev, 1));
    works.push_back(world->recv(rb, prev, 2));
    works.push_back(world->send(a, next, 1));
    works.push_back(world->send(b, next, 2));
  }
  dist::wait_all(works);
  CHECK(ra[3].item<float>() == prev * 1.0f);
  CHECK(rb[1].item<double>() == prev * 2.0);
  world->barrier()->wait();
}

TEST_CASE("collectives queued together complete in any waiting order", "[mpi]") {
  auto world = dist::world();
  const int n = world->size();
  std::vector<Tensor> ts;
  std::vector<dist::WorkPtr> works;
  for (int k = 0; k < 8; ++k) {
    ts.push_back(full({100 + k}, static_cast<double>(k), {.dtype = kF64}));
    works.push_back(world->allreduce(ts.back()));
  }
  for (int k = 7; k >= 0; --k) {
    works[static_cast<size_t>(k)]->wait();
    CHECK(ts[static_cast<size_t>(k)][0].item<double>() == k * n);
    CHECK(works[static_cast<size_t>(k)]->is_completed());
  }
}

TEST_CASE("subgroups: new_group, non-members, split", "[mpi]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  std::vector<int> evens;
  for (int r = 0; r < n; r += 2) evens.push_back(r);
  auto g = dist::new_group(evens, "evens");
  if (me % 2 == 1) {
    CHECK(g == nullptr);
  } else {
    REQUIRE(g != nullptr);
    CHECK(g->name() == "evens");
    CHECK(g->size() == static_cast<int>(evens.size()));
    CHECK(g->rank() == me / 2);
    CHECK(g->world_ranks() == evens);
    Tensor t = full({3}, static_cast<double>(me), {.dtype = kF64});
    g->allreduce(t)->wait();
    double want = 0;
    for (int r : evens) want += r;
    CHECK(t[0].item<double>() == want);
  }
  // A group listing ranks in reverse: group rank i is world rank ranks[i].
  std::vector<int> rev;
  for (int r = n - 1; r >= 0; --r) rev.push_back(r);
  auto h = world->new_group(rev);
  REQUIRE(h != nullptr);
  CHECK(h->rank() == n - 1 - me);
  Tensor t = full({1}, static_cast<double>(me), {.dtype = kF64});
  h->broadcast(t, 0)->wait();  // group rank 0 is world rank n - 1
  CHECK(t.item<double>() == n - 1);
  CHECK_THROWS_WITH(world->new_group({0, 0}), Catch::Matchers::Contains("listed twice"));
  CHECK_THROWS_WITH(world->new_group({n}), Catch::Matchers::Contains("is not a rank"));
}

TEST_CASE("DeviceMesh lays ranks out row-major with a group per dimension", "[mpi]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  const int tp = n >= 4 ? 2 : 1, dp = n / tp;
  dist::DeviceMesh mesh(world, {{"dp", dp}, {"tp", tp}});
  CHECK(mesh.coordinate("dp") == me / tp);
  CHECK(mesh.coordinate("tp") == me % tp);
  CHECK(mesh.rank_at(mesh.coordinates()) == me);
  CHECK(mesh.group("tp")->size() == tp);
  CHECK(mesh.group("tp")->rank() == me % tp);
  CHECK(mesh.group("dp")->size() == dp);
  // Summing world ranks along tp gives the ranks sharing this dp coordinate.
  Tensor t = full({1}, static_cast<double>(me), {.dtype = kF64});
  mesh.group("tp")->allreduce(t)->wait();
  double want = 0;
  for (int c = 0; c < tp; ++c) want += mesh.rank_at({mesh.coordinate("dp"), c});
  CHECK(t.item<double>() == want);
  std::vector<int> dp_ranks;
  for (int c = 0; c < dp; ++c) dp_ranks.push_back(mesh.rank_at({c, mesh.coordinate("tp")}));
  CHECK(mesh.group("dp")->world_ranks() == dp_ranks);
  CHECK(mesh.str().find("dp=") != std::string::npos);
  CHECK_THROWS_WITH(dist::DeviceMesh(world, {{"dp", n + 1}}), Catch::Matchers::Contains("makes"));
  CHECK_THROWS_WITH(mesh.group("pp"), Catch::Matchers::Contains("no dimension 'pp'"));
}

TEST_CASE("collective arguments are checked before anything is sent", "[mpi][world1]") {
  auto world = dist::world();
  const int n = world->size();
  Tensor m = zeros({4, 3});
  CHECK_THROWS_WITH(world->allreduce(m.t()), Catch::Matchers::Contains("[allreduce]") &&
                                                 Catch::Matchers::Contains("not contiguous"));
  CHECK_THROWS_WITH(world->allreduce(zeros({2}, {.dtype = kI64}), ReduceOp::kAvg),
                    Catch::Matchers::Contains("avg needs a floating tensor"));
  CHECK_THROWS_WITH(world->broadcast(m, n), Catch::Matchers::Contains("root"));
  CHECK_THROWS_WITH(world->allgather(zeros({3}), zeros({2})), Catch::Matchers::Contains("[allgather]"));
  CHECK_THROWS_WITH(world->allgather(zeros({2 * n}, {.dtype = kF64}), zeros({2})),
                    Catch::Matchers::Contains("different dtypes"));
  CHECK_THROWS_WITH(world->reduce_scatter(zeros({2}), zeros({2 * n + 1})),
                    Catch::Matchers::Contains("[reduce_scatter]"));
  CHECK_THROWS_WITH(world->all_to_all(zeros({2 * n}), zeros({n})), Catch::Matchers::Contains("divisible"));
  CHECK_THROWS_WITH(world->send(zeros({1}), world->rank()), Catch::Matchers::Contains("not another rank"));
  CHECK_THROWS_WITH(world->allgather_v(zeros({1}), zeros({1}), std::vector<int64_t>(static_cast<size_t>(n) + 1, 1)),
                    Catch::Matchers::Contains("counts for a group"));
}

TEST_CASE("Work::wait with a timeout reports an operation still running", "[mpi]") {
  auto world = dist::world();
  dist::WorkPtr w;
  if (world->rank() == 0) {
    w = world->barrier();
    CHECK_THROWS_WITH(w->wait(std::chrono::milliseconds(50)),
                      Catch::Matchers::Contains("barrier #") && Catch::Matchers::Contains("did not complete within"));
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    w = world->barrier();
  }
  w->wait();  // the barrier itself goes on and completes
  CHECK(w->is_completed());
}

TEST_CASE("bytes sent are counted as the bandwidth-optimal algorithms send them", "[mpi]") {
  auto world = dist::world();
  const int n = world->size();
  world->reset_bytes_sent();
  world->allreduce(zeros({1000}))->wait();
  CHECK(world->bytes_sent() == static_cast<uint64_t>(2.0 * (n - 1) / n * 4000));
  world->reset_bytes_sent();
  world->allgather(zeros({10 * n}, {.dtype = kF16}), zeros({10}, {.dtype = kF16}))->wait();
  CHECK(world->bytes_sent() == static_cast<uint64_t>((n - 1) * 20));
}

TEST_CASE("a world of one process needs no MPI", "[world1]") {
  auto world = dist::world();
  REQUIRE(world->size() == 1);
  Tensor t = tensor({1.0, 2.0});
  world->allreduce(t, ReduceOp::kAvg)->wait();
  CHECK(t.tolist<float>() == std::vector<float>{1, 2});
  Tensor out = empty({2});
  world->allgather(out, t)->wait();
  CHECK(out.tolist<float>() == std::vector<float>{1, 2});
  world->barrier()->wait();
  auto sub = world->new_group({0});
  REQUIRE(sub != nullptr);
  CHECK(sub->size() == 1);
  dist::DeviceMesh mesh(world, {{"dp", 1}, {"tp", 1}});
  CHECK(mesh.group("tp")->size() == 1);
}

TEST_CASE("the launcher's environment: OpenMPI, PMI, Slurm, none", "[world1]") {
  auto parse = [](std::map<std::string, std::string> env) {
    return dist::parse_launch_env([&](const char* k) -> const char* {
      auto it = env.find(k);
      return it == env.end() ? nullptr : it->second.c_str();
    });
  };
  auto e = parse({{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                  {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}});
  CHECK((e.rank == 3 && e.world_size == 4 && e.local_rank == 1 && e.local_world_size == 2));
  CHECK(e.launcher == "openmpi");
  e = parse({{"PMI_SIZE", "8"}, {"PMI_RANK", "5"}, {"MPI_LOCALRANKID", "1"}, {"MPI_LOCALNRANKS", "4"}});
  CHECK((e.rank == 5 && e.world_size == 8 && e.local_rank == 1 && e.local_world_size == 4 && e.launcher == "pmi"));
  e = parse({{"SLURM_PROCID", "6"}, {"SLURM_NTASKS", "7"}, {"SLURM_LOCALID", "0"}, {"SLURM_NODEID", "3"},
             {"SLURM_TASKS_PER_NODE", "2(x3),1"}});
  CHECK((e.rank == 6 && e.world_size == 7 && e.local_world_size == 1 && e.launcher == "slurm"));
  e = parse({});
  CHECK((e.rank == 0 && e.world_size == 1 && e.launcher == "none"));
  CHECK_THROWS_WITH(parse({{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_RANK", "x"}}),
                    Catch::Matchers::Contains("OMPI_COMM_WORLD_RANK='x'"));
  CHECK_THROWS_WITH(parse({{"PMI_SIZE", "2"}, {"PMI_RANK", "2"}}),
                    Catch::Matchers::Contains("not below the world size"));
  CHECK_THROWS_WITH(parse({{"WORLD_SIZE", "4"}}), Catch::Matchers::Contains("torchrun"));
}
