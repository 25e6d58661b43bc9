// The zoo registry (models/zoo.cpp): lookups by name, the error for an unknown name, and the small rows (LeNet-5 and
// the MLP) built and counted; the vision rows are built and checked in vision_zoo_test.cpp.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/models/zoo.h>

using namespace ds;

TEST_CASE("zoo: every row has a name, a family, a count and an input; names are unique", "[models][zoo]") {
  const auto& rows = models::zoo();
  REQUIRE(rows.size() >= 25);
  for (const models::ZooEntry& e : rows) {
    INFO(e.name);
    CHECK_FALSE(e.name.empty());
    CHECK((e.family == "vision" || e.family == "nlp"));
    CHECK(e.parameter_count() > 0);
    CHECK_FALSE(e.input_shape.empty());
    CHECK(&models::zoo_entry(e.name) == &e);
  }
  CHECK(models::zoo_entry("resnet50").parameter_count() == 25'557'032);
  CHECK(models::zoo_entry("inception_v3").input_shape == Shape{3, 299, 299});
}

TEST_CASE("zoo: an unknown name is an error listing the known ones", "[models][zoo]") {
  CHECK_THROWS_WITH(models::zoo_entry("resnet51"),
                    Catch::Contains("[models] unknown model 'resnet51'; known models: lenet5, mlp, alexnet") &&
                        Catch::Contains("regnet_y_400mf"));
}

TEST_CASE("zoo: LeNet-5 and the MLP as ds-train builds them for Fashion-MNIST", "[models][zoo]") {
  for (const char* name : {"lenet5", "mlp"}) {
    INFO(name);
    const models::ZooEntry& e = models::zoo_entry(name);
    const auto m = e.create();
    // LeNet-5: 6*1*25+6 + 16*6*25+16 + 400*120+120 + 120*84+84 + 84*10+10 = 61,706;
    // MLP 784-512-512-10: 784*512+512 + 512*512+512 + 512*10+10 = 669,706.
    CHECK(m->parameter_count() == e.parameter_count());
    CHECK(e.parameter_count() == (std::string(name) == "lenet5" ? 61'706 : 669'706));
    NoGradGuard no_grad;
    CHECK((*m)(randn({2, 1, 28, 28})).sizes() == Shape{2, 10});
  }
}
