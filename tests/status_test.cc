#include <sluice/status.hpp>

#include <gtest/gtest.h>

#include <sstream>
#include <string>

using sluice::status;

TEST(Status, ToStringNamesEveryValue) {
  EXPECT_STREQ(sluice::to_string(status::ok), "ok");
  EXPECT_STREQ(sluice::to_string(status::closed), "closed");
  EXPECT_STREQ(sluice::to_string(status::timeout), "timeout");
  EXPECT_STREQ(sluice::to_string(status::full), "full");
  EXPECT_STREQ(sluice::to_string(status::empty), "empty");
  EXPECT_STREQ(sluice::to_string(static_cast<status>(200)), "unknown");
}

TEST(Status, Streams) {
  std::ostringstream os;
  os << status::timeout;
  EXPECT_EQ(os.str(), "timeout");
}

TEST(BadRecvAccess, SaysWhy) {
  sluice::bad_recv_access e(status::closed);
  EXPECT_EQ(e.status(), status::closed);
  EXPECT_NE(std::string(e.what()).find("closed"), std::string::npos);
}
