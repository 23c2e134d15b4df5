// The packed form of small local messages (src/mp/packed.hpp): exact round trips, value types
// kept, unpacking over any earlier message, and the limits. The test reaches into the private
// header.
#include "../src/mp/packed.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using json = nlohmann::json;
using sluice::mp::detail::pack;
using sluice::mp::detail::packed_message;
using sluice::mp::detail::unpack;

namespace {

// Same value and the same value type all the way down (== alone says 1 == 1u == 1.0).
void expect_same(const json& got, const json& want, const std::string& where = "") {
  ASSERT_EQ(got.type(), want.type()) << where << ": " << got.dump() << " against " << want.dump();
  if (want.is_number_float()) {
    const double g = got.get<double>(), w = want.get<double>();
    EXPECT_TRUE((std::isnan(g) && std::isnan(w)) || (g == w && std::signbit(g) == std::signbit(w))) << where;
  } else if (want.is_array()) {
    ASSERT_EQ(got.size(), want.size()) << where;
    for (std::size_t i = 0; i < want.size(); ++i) expect_same(got[i], want[i], where + "/" + std::to_string(i));
  } else if (want.is_object()) {
    ASSERT_EQ(got.size(), want.size()) << where;
    for (auto it = want.begin(); it != want.end(); ++it) {
      ASSERT_TRUE(got.contains(it.key())) << where << ": no " << it.key();
      expect_same(got[it.key()], it.value(), where + "/" + it.key());
    }
  } else {
    EXPECT_EQ(got, want) << where;
  }
}

std::vector<json> values() {
  using i64 = std::numeric_limits<std::int64_t>;
  using u64 = std::numeric_limits<std::uint64_t>;
  return {
      nullptr, true, false,
      0, -1, 127, -128, 128, -129, 32767, -32768, 32768, -32769,
      std::numeric_limits<std::int32_t>::max(), std::numeric_limits<std::int32_t>::min(),
      std::int64_t{1} << 40, i64::max(), i64::min(),
      0u, 255u, 256u, 65535u, 65536u, std::uint64_t{1} << 32, u64::max(),
      1.5, -0.0, 0.0, 1e300, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
      "", "tag", std::string(40, 'x'), std::string("nul\0inside", 10),
      json::array(), json::array({"tag", 1}), json::array({"tag", -7, 3u, 2.5, nullptr, true}),
      json::array({json::array({1, 2}), json::array(), json::array({"a", json::array({"b"})})}),
      json::object(), json({{"b", 1}, {"a", json::array({true, "x"})}}),
      json::array({"reply", json({{"k", "v"}}), 99}),
  };
}

json packed_round_trip(const json& v) {
  packed_message p;
  EXPECT_TRUE(pack(v, p)) << v.dump();
  json out;
  unpack(p, out);
  return out;
}

json nest(int levels) {
  json v = 1;
  for (int i = 0; i < levels; ++i) v = json::array({v});
  return v;
}

}  // namespace

TEST(Packed, RoundTripsEveryValueTypeExactly) {
  for (const json& v : values()) expect_same(packed_round_trip(v), v, v.dump());
}

TEST(Packed, UnpacksOverAnyEarlierMessage) {
  // The worker unpacks each message over the one before (reusing its array and strings):
  // whatever was there, the result is exactly the new message.
  const auto vs = values();
  for (const json& before : vs) {
    for (const json& v : vs) {
      packed_message p;
      ASSERT_TRUE(pack(v, p));
      json out = before;
      unpack(p, out);
      expect_same(out, v, before.dump() + " then " + v.dump());
    }
  }
}

TEST(Packed, TakesExactlyWhatFitsAndNothingElse) {
  packed_message p;
  // A string's tag and length byte, then its bytes: 45 bytes fill the 47.
  EXPECT_TRUE(pack(std::string(packed_message::capacity - 2, 'y'), p));
  EXPECT_EQ(p.size, packed_message::capacity);
  EXPECT_FALSE(pack(std::string(packed_message::capacity - 1, 'y'), p));
  EXPECT_FALSE(pack(json::array({std::string(300, 'z')}), p)) << "longer than a length byte";
  EXPECT_FALSE(pack(json::array({"tag", std::string(44, 'w')}), p));
  EXPECT_FALSE(pack(json(std::vector<json>(packed_message::capacity, nullptr)), p));
  EXPECT_FALSE(pack(json::binary({1, 2, 3}), p)) << "binary values travel as trees";
  EXPECT_FALSE(pack(json(json::value_t::discarded), p));
  EXPECT_FALSE(pack(json({{std::string(50, 'k'), 1}}), p)) << "a key longer than the buffer";
  // Nesting: max_depth containers around a number fit, one more does not.
  expect_same(packed_round_trip(nest(packed_message::max_depth)), nest(packed_message::max_depth));
  EXPECT_FALSE(pack(nest(packed_message::max_depth + 1), p));
}
