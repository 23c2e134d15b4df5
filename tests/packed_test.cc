// The packed form of small local messages (src/mp/packed.hpp): exact round trips, value types
// kept, unpacking over any earlier message, and the limits. The test reaches into the private
// header.
#include "../src/mp/packed.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
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

// Random small trees, each unpacked over the one before (as a worker does): exact every time,
// and pack refuses only what is too big, too deep or binary.
TEST(Packed, RandomTreesUnpackedOverTheOneBefore) {
  std::uint64_t seed = 0x9e3779b97f4a7c15u;
  auto next = [&seed](std::uint64_t n) {  // splitmix64
    seed += 0x9e3779b97f4a7c15u;
    std::uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (z ^ (z >> 31)) % n;
  };
  std::function<json(int)> tree = [&](int depth) -> json {
    switch (next(depth > 0 ? 9 : 7)) {
      case 0: return nullptr;
      case 1: return next(2) == 1;
      case 2: return static_cast<std::int64_t>(next(1ull << 63)) - static_cast<std::int64_t>(next(1ull << 62)) * 2;
      case 3: return next(~0ull);
      case 4: return static_cast<double>(next(1000)) / 7.0;
      case 5: return static_cast<std::int64_t>(next(300)) - 150;
      case 6: return std::string(next(12), static_cast<char>('a' + next(26)));
      case 7: {
        json a = json::array();
        for (auto n = next(5); n > 0; --n) a.push_back(tree(depth - 1));
        return a;
      }
      default: {
        json o = json::object();
        for (auto n = next(4); n > 0; --n) o[std::string(1 + next(3), static_cast<char>('k' + next(3)))] = tree(depth - 1);
        return o;
      }
    }
  };
  json over;
  int packed = 0;
  for (int i = 0; i < 20000; ++i) {
    const json m = tree(static_cast<int>(next(packed_message::max_depth + 2)));
    packed_message p;
    if (!pack(m, p)) continue;
    ++packed;
    unpack(p, over);
    expect_same(over, m, m.dump());
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(packed, 5000) << "most small trees fit";
}
