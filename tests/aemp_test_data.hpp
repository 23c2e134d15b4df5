// Test helper: the captured AnyEvent::MP 2.02 byte streams in tests/data/aemp.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#ifndef SLUICE_TEST_DATA_DIR
#define SLUICE_TEST_DATA_DIR "tests/data"  // Bazel runs tests from the workspace's runfiles
#endif

namespace sluice_test {

inline const std::string aemp_secret = "interop-test-secret";  // the captures' shared secret

inline std::string read_aemp_file(const std::string& rel) {
  std::ifstream in(std::string(SLUICE_TEST_DATA_DIR) + "/aemp/" + rel, std::ios::binary);
  if (!in) ADD_FAILURE() << "cannot read test data " << rel;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace sluice_test
