#include <sluice/recv_result.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>

using sluice::recv_result;
using sluice::status;

TEST(RecvResult, WithValue) {
  recv_result<std::string> r(std::in_place, "hi");
  EXPECT_EQ(r.status(), status::ok);
  EXPECT_TRUE(r.has_value());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.value(), "hi");
  EXPECT_EQ(*r, "hi");
  EXPECT_EQ(r->size(), 2u);
  std::string moved = std::move(r).value();
  EXPECT_EQ(moved, "hi");
}

TEST(RecvResult, WithoutValueThrowsBadRecvAccess) {
  for (status s : {status::closed, status::timeout, status::empty}) {
    recv_result<int> r(s);
    EXPECT_EQ(r.status(), s);
    EXPECT_FALSE(r.has_value());
    EXPECT_FALSE(r);
    EXPECT_THROW((void)r.value(), sluice::bad_recv_access);
    EXPECT_THROW((void)*r, sluice::bad_recv_access);
    const recv_result<int>& cr = r;
    EXPECT_THROW((void)cr.value(), sluice::bad_recv_access);
    EXPECT_THROW((void)std::move(r).value(), sluice::bad_recv_access);
    try {
      (void)r.value();
    } catch (const sluice::bad_recv_access& e) {
      EXPECT_EQ(e.status(), s);
    }
  }
}

TEST(RecvResult, MoveOnlyValue) {
  recv_result<std::unique_ptr<int>> r(std::in_place, std::make_unique<int>(7));
  std::unique_ptr<int> p = *std::move(r);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 7);
}

TEST(RecvResult, ValueOr) {
  EXPECT_EQ(recv_result<int>(status::closed).value_or(3), 3);
  EXPECT_EQ(recv_result<int>(std::in_place, 5).value_or(3), 5);
}
