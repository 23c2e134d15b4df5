// AnyEvent::MP's configuration file: relaxed parsing, loading, profile resolution and node
// ids, checked against what AnyEvent::MP 2.02's Config.pm and Kernel.pm do (the expected
// results of the precedence tests were confirmed by running Config.pm's find_profile).
#include <sluice/internal/aemp/rcfile.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace aemp = sluice::mp::aemp;
using json = nlohmann::json;

namespace {

// The example file that ships with the Perl oracle (perl-anyevent-mp.json).
const char* const example_rc = R"({
   "version" : 1,
   "secret" : "interop-test-secret",
   "profile" : {
      "nodeA" : {
         "nodeid" : "nodeA",
         "binds"  : [ "127.0.0.1:14040" ],
         "seeds"  : [ "127.0.0.1:14040" ]
      },
      "nodeB" : {
         "nodeid" : "nodeB",
         "binds"  : [ "127.0.0.1:14041" ],
         "seeds"  : [ "127.0.0.1:14040" ]
      },
      "nodeB_via_proxy" : {
         "nodeid" : "nodeB",
         "binds"  : [ "127.0.0.1:14041" ],
         "seeds"  : [ "127.0.0.1:15040" ]
      }
   }
}
)";

// A chain a -> b -> c, a profile with a missing parent, and top-level values.
const char* const chain_rc = R"({
  "top": "T", "monitor_timeout": 99, "secret": "S",
  "profile": {
    "a": {"parent": "b", "x": "A", "nodeid": "na"},
    "b": {"parent": "c", "x": "B", "y": "B"},
    "c": {"x": "C", "y": "C", "z": "C"},
    "d": {"parent": "nosuch", "x": "D"}
  }
})";

json parse_ok(const std::string& text) {
  std::string why;
  auto rc = aemp::parse_rc(text, why);
  EXPECT_TRUE(rc.has_value()) << why;
  return rc.value_or(json());
}

std::string parse_error(const std::string& text) {
  std::string why;
  auto rc = aemp::parse_rc(text, why);
  EXPECT_FALSE(rc.has_value()) << "accepted: " << text;
  return why;
}

json resolve_ok(const json& rc, const std::string& profile, const json& args = json::object(), bool force = false) {
  std::string why;
  auto cfg = aemp::resolve_profile(rc, profile, args, force, why);
  EXPECT_TRUE(cfg.has_value()) << why;
  return cfg.value_or(json());
}

std::string resolve_error(const json& rc, const std::string& profile, const json& args = json::object()) {
  std::string why;
  auto cfg = aemp::resolve_profile(rc, profile, args, false, why);
  EXPECT_FALSE(cfg.has_value()) << cfg.value_or(json()).dump();
  return why;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// A fresh directory under the test temp dir, removed with everything written into it.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = ::testing::TempDir() + "aemp_rcfile_XXXXXX";
    path_ = mkdtemp(pattern.data()) ? pattern : "";
    EXPECT_FALSE(path_.empty());
  }
  ~temp_dir() {
    for (const auto& f : files_) std::remove(f.c_str());
    rmdir(path_.c_str());
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = path_ + "/" + name;
    std::FILE* f = std::fopen(p.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (f) {
      std::fwrite(text.data(), 1, text.size(), f);
      std::fclose(f);
    }
    files_.push_back(p);
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

// Sets or unsets an environment variable for one scope, then restores it.
class env_var {
 public:
  env_var(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~env_var() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::function<std::string()> fixed_random(int& calls) {
  return [&calls] {
    ++calls;
    return std::string("abcdefghiJ");
  };
}

}  // namespace

// ---- the example file ----

TEST(AempRcFile, ParsesTheOracleExampleFile) {
  json rc = parse_ok(example_rc);
  EXPECT_EQ(rc["version"], 1);
  EXPECT_EQ(rc["secret"], "interop-test-secret");
  EXPECT_EQ(rc["profile"].size(), 3u);
  EXPECT_EQ(rc["profile"]["nodeB_via_proxy"]["seeds"], json({"127.0.0.1:15040"}));
}

TEST(AempRcFile, ExampleProfileGetsItsOwnValuesTopLevelSecretAndDefaults) {
  json cfg = resolve_ok(parse_ok(example_rc), "nodeB");
  EXPECT_EQ(cfg["nodeid"], "nodeB");
  EXPECT_EQ(cfg["binds"], json({"127.0.0.1:14041"}));
  EXPECT_EQ(cfg["seeds"], json({"127.0.0.1:14040"}));
  EXPECT_EQ(cfg["secret"], "interop-test-secret");
  EXPECT_EQ(cfg["monitor_timeout"], 30);
  EXPECT_EQ(cfg["connect_interval"], 2);
  EXPECT_EQ(cfg["version"], 1);          // unknown keys are kept
  EXPECT_TRUE(cfg.contains("profile"));  // even the profile table, as in Perl
  std::string why;
  auto pattern = aemp::nodeid_pattern(cfg, "nodeB", why);
  ASSERT_TRUE(pattern) << why;
  int calls = 0;
  auto id = aemp::expand_nodeid(*pattern, "host", fixed_random(calls));
  EXPECT_EQ(id.id, "nodeB");
  EXPECT_FALSE(id.randomised);
  EXPECT_EQ(calls, 0);
}

TEST(AempRcFile, ExampleWithUnknownProfileUsesTopLevelAndDefaultNodeId) {
  json cfg = resolve_ok(parse_ok(example_rc), "myhost");
  EXPECT_FALSE(cfg.contains("nodeid"));
  EXPECT_FALSE(cfg.contains("binds"));
  EXPECT_EQ(cfg["secret"], "interop-test-secret");
  std::string why;
  EXPECT_EQ(aemp::nodeid_pattern(cfg, "myhost", why), "myhost/");
}

// ---- relaxed syntax ----

TEST(AempRcFile, HashCommentsAreWhitespaceOutsideStrings) {
  json rc = parse_ok("# leading\n{ # after brace\n \"a\": \"x#y\", # c\n \"b\" # c\n : 1 } # trailing");
  EXPECT_EQ(rc["a"], "x#y");
  EXPECT_EQ(rc["b"], 1);
}

TEST(AempRcFile, CommentEndsAtCarriageReturn) {
  json rc = parse_ok("{\"a\": 1 # c\r, \"b\": 2}");
  EXPECT_EQ(rc["b"], 2);
}

TEST(AempRcFile, OneEndCommaIsAcceptedInArraysAndObjects) {
  json rc = parse_ok("{\"a\": [1, 2, ], \"b\": {\"c\": 1,}, \"d\": [[],],}");
  EXPECT_EQ(rc["a"], json({1, 2}));
  EXPECT_EQ(rc["b"], json({{"c", 1}}));
  EXPECT_EQ(rc["d"], json::parse("[[]]"));
}

TEST(AempRcFile, CommentsBetweenEndCommaAndBracket) {
  // JSON::XS's own relaxed test, wrapped in an object.
  json rc = parse_ok("{\"a\": [1#,2\n ,2,# ] \n\t]}");
  EXPECT_EQ(rc["a"], json({1, 2}));
}

TEST(AempRcFile, CommaWithoutValueBeforeItIsRejected) {
  EXPECT_TRUE(starts_with(parse_error("{\"a\": [1,2,,]}"), "line 1: "));
  parse_error("{\"a\": [,1]}");
  parse_error("{\"a\": [,]}");
  parse_error("{,}");
  parse_error("{\"a\":,}");
  parse_error("{\"a\": 1,,}");
}

TEST(AempRcFile, LiteralTabInStringIsATab) {
  json rc = parse_ok("{\"a\": \"x\ty\"}");
  EXPECT_EQ(rc["a"], "x\ty");
}

TEST(AempRcFile, SlashCommentsAreNotJsonXsSyntax) {
  parse_error("{ // no\n}");
  parse_error("{ /* no */ }");
}

TEST(AempRcFile, LaterDuplicateKeyWins) { EXPECT_EQ(parse_ok("{\"a\": 1, \"a\": 2}")["a"], 2); }

// ---- malformed files ----

TEST(AempRcFile, MissingColonReportsItsLine) {
  std::string why = parse_error("{\n  \"a\": 1,\n  \"b\" 2\n}\n");
  EXPECT_TRUE(starts_with(why, "line 3: ")) << why;
  EXPECT_EQ(why.find("json.exception"), std::string::npos) << why;
}

TEST(AempRcFile, LineNumbersCountCommentedLines) {
  std::string why = parse_error("# one\n# two\n{\n\"a\": [1, 2,, ]\n}");
  EXPECT_TRUE(starts_with(why, "line 4: ")) << why;
}

TEST(AempRcFile, UnterminatedObjectReportsTheLastLine) {
  std::string why = parse_error("{\n\"a\": 1,\n\"b\": 2\n");
  EXPECT_TRUE(starts_with(why, "line 4: ")) << why;
}

TEST(AempRcFile, NewlineInsideStringIsRejectedOnItsLine) {
  std::string why = parse_error("{\n\"a\": \"x\ny\"}");
  EXPECT_TRUE(starts_with(why, "line 2: ")) << why;
}

TEST(AempRcFile, EmptyFileIsAnError) {
  EXPECT_TRUE(starts_with(parse_error(""), "line 1: "));
  EXPECT_TRUE(starts_with(parse_error("# only a comment\n"), "line 2: "));
}

TEST(AempRcFile, TopLevelMustBeAnObject) {
  std::string why = parse_error("\n\n[1, 2]");
  EXPECT_TRUE(starts_with(why, "line 3: ")) << why;
  EXPECT_NE(why.find("an array"), std::string::npos) << why;
  EXPECT_NE(parse_error("\"s\"").find("a string"), std::string::npos);
  parse_error("null");
}

TEST(AempRcFile, GarbageAfterTheObjectIsAnError) { parse_error("{} {}"); }

TEST(AempRcFile, ByteOrderMarkIsRejected) { EXPECT_TRUE(starts_with(parse_error("\xEF\xBB\xBF{}"), "line 1: ")); }

TEST(AempRcFile, NestingBeyondJsonXsMaxDepthIsRejected) {
  auto nested = [](int depth) {  // the outer object counts as one level
    return "{\"a\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
  };
  parse_ok(nested(aemp::rc_max_depth));
  std::string why = parse_error(nested(aemp::rc_max_depth + 1));
  EXPECT_NE(why.find("deeper than 512"), std::string::npos) << why;
}

// ---- loading ----

TEST(AempRcFile, MissingFileIsPerlsStartingConfig) {
  temp_dir dir;
  std::string why;
  auto rc = aemp::load_rc(dir.path() + "/no-such-file", why);
  ASSERT_TRUE(rc) << why;
  EXPECT_EQ(*rc, json({{"version", 1}}));
}

TEST(AempRcFile, LoadsAFileFromDisk) {
  temp_dir dir;
  std::string why;
  auto rc = aemp::load_rc(dir.write("rc", example_rc), why);
  ASSERT_TRUE(rc) << why;
  EXPECT_EQ((*rc)["secret"], "interop-test-secret");
}

TEST(AempRcFile, MalformedFileNamesPathAndLine) {
  temp_dir dir;
  std::string path = dir.write("rc", "{\n\"a\": tru\n}");
  std::string why;
  EXPECT_FALSE(aemp::load_rc(path, why));
  EXPECT_TRUE(starts_with(why, path + ": line 2: ")) << why;
}

TEST(AempRcFile, DirectoryIsAnUnreadableFile) {
  temp_dir dir;
  std::string why;
  EXPECT_FALSE(aemp::load_rc(dir.path(), why));
  EXPECT_TRUE(starts_with(why, dir.path() + ": ")) << why;
}

// ---- rc_path ----

TEST(AempRcFile, RcPathPrefersTheEnvironmentVariable) {
  env_var rc("PERL_ANYEVENT_MP_RC", "/etc/aemp.json");
  EXPECT_EQ(aemp::rc_path(), "/etc/aemp.json");
}

TEST(AempRcFile, RcPathTakesAnEmptyVariableAsPerlDoes) {
  env_var rc("PERL_ANYEVENT_MP_RC", "");
  env_var home("HOME", "/home/u");
  EXPECT_EQ(aemp::rc_path(), "");
}

TEST(AempRcFile, RcPathFallsBackToHome) {
  env_var rc("PERL_ANYEVENT_MP_RC", nullptr);
  env_var home("HOME", "/home/u");
  EXPECT_EQ(aemp::rc_path(), "/home/u/.perl-anyevent-mp");
}

TEST(AempRcFile, RcPathWithoutHomeUsesAppData) {
  env_var rc("PERL_ANYEVENT_MP_RC", nullptr);
  env_var home("HOME", nullptr);
  env_var appdata("APPDATA", "C:/Users/u/AppData");
  EXPECT_EQ(aemp::rc_path(), "C:/Users/u/AppData/perl-anyevent-mp");
}

// ---- profiles ----

TEST(AempRcFile, ParentChainNearestWinsAndTopLevelIsLowest) {
  json cfg = resolve_ok(parse_ok(chain_rc), "a");
  EXPECT_EQ(cfg["x"], "A");
  EXPECT_EQ(cfg["y"], "B");
  EXPECT_EQ(cfg["z"], "C");
  EXPECT_EQ(cfg["top"], "T");
  EXPECT_EQ(cfg["parent"], "b");  // the named profile's own "parent" key stays
  EXPECT_EQ(cfg["nodeid"], "na");
}

TEST(AempRcFile, MissingParentContributesNothing) {
  json cfg = resolve_ok(parse_ok(chain_rc), "d");
  EXPECT_EQ(cfg["x"], "D");
  EXPECT_EQ(cfg["top"], "T");
  EXPECT_FALSE(cfg.contains("y"));
}

TEST(AempRcFile, FileWithoutProfilesGetsAnEmptyProfileTable) {
  // Perl autovivifies $CFG{profile} while looking the name up.
  json cfg = resolve_ok(json{{"version", 1}}, "host");
  EXPECT_EQ(cfg["profile"], json::object());
  EXPECT_EQ(cfg["version"], 1);
}

TEST(AempRcFile, ParentLoopIsAnErrorNotAHang) {
  json rc = parse_ok(R"({"profile": {"a": {"parent": "b"}, "b": {"parent": "c"}, "c": {"parent": "a"}}})");
  std::string why = resolve_error(rc, "a");
  EXPECT_NE(why.find("a -> b -> c -> a"), std::string::npos) << why;
  EXPECT_NE(resolve_error(rc, "b").find("b -> c -> a -> b"), std::string::npos);
}

TEST(AempRcFile, SelfParentIsALoop) {
  json rc = parse_ok(R"({"profile": {"a": {"parent": "a"}}})");
  EXPECT_NE(resolve_error(rc, "a").find("a -> a"), std::string::npos);
}

TEST(AempRcFile, MalformedProfileTablesAreErrors) {
  EXPECT_NE(resolve_error(json{{"profile", 5}}, "a").find("\"profile\""), std::string::npos);
  EXPECT_NE(resolve_error(json{{"profile", {{"a", json::array()}}}}, "a").find("profile \"a\""), std::string::npos);
  EXPECT_NE(resolve_error(json{{"profile", {{"a", {{"parent", json::array()}}}}}}, "a").find("parent"),
            std::string::npos);
  resolve_ok(json{{"profile", nullptr}}, "a");
}

TEST(AempRcFile, ArgumentsMustBeAnObject) {
  EXPECT_NE(resolve_error(json::object(), "a", json::array()).find("arguments"), std::string::npos);
  resolve_ok(json::object(), "a", nullptr);
}

// ---- precedence ----

TEST(AempRcFile, WithoutForceTheFileBeatsArgumentsWhichBeatDefaults) {
  json args = {{"x", "ARG"}, {"arg", 1}, {"connect_interval", 5}};
  json cfg = resolve_ok(parse_ok(chain_rc), "a", args);
  EXPECT_EQ(cfg["x"], "A");               // profile over argument
  EXPECT_EQ(cfg["arg"], 1);               // argument kept where the file is silent
  EXPECT_EQ(cfg["connect_interval"], 5);  // argument over default
  EXPECT_EQ(cfg["monitor_timeout"], 99);  // top level over default
}

TEST(AempRcFile, WithForceArgumentsAndDefaultsBeatTheFile) {
  json args = {{"x", "ARG"}, {"arg", 1}};
  json cfg = resolve_ok(parse_ok(chain_rc), "a", args, true);
  EXPECT_EQ(cfg["x"], "ARG");
  EXPECT_EQ(cfg["y"], "B");
  EXPECT_EQ(cfg["monitor_timeout"], 30);  // Perl's force moves the defaults after the file too
  EXPECT_EQ(cfg["secret"], "S");
}

TEST(AempRcFile, ForceAndNorcArgumentsAreHonouredAndRemoved) {
  json rc = parse_ok(chain_rc);
  json forced = resolve_ok(rc, "a", {{"x", "ARG"}, {"force", 1}});
  EXPECT_EQ(forced["x"], "ARG");
  EXPECT_FALSE(forced.contains("force"));
  json not_forced = resolve_ok(rc, "a", {{"x", "ARG"}, {"force", "0"}});
  EXPECT_EQ(not_forced["x"], "A");
  EXPECT_FALSE(not_forced.contains("force"));
  json norc = resolve_ok(rc, "a", {{"arg", 1}, {"norc", true}});
  EXPECT_EQ(norc, [] {
    json expected = aemp::builtin_defaults();
    expected["arg"] = 1;
    return expected;
  }());
}

TEST(AempRcFile, DefaultsAreFindProfiles) {
  json cfg = resolve_ok(json::object(), "host");
  EXPECT_EQ(cfg["monitor_timeout"], 30);
  EXPECT_EQ(cfg["connect_interval"], 2);
  EXPECT_EQ(cfg["framing_format"], json({"cbor", "json", "storable"}));
  EXPECT_EQ(cfg["auth_offer"], json({"tls_sha3_512", "hmac_sha3_512"}));
  EXPECT_EQ(cfg["auth_accept"], json({"tls_sha3_512", "hmac_sha3_512", "tls_anon", "cleartext"}));
  EXPECT_FALSE(cfg.contains("secret"));
  EXPECT_FALSE(cfg.contains("cert"));
}

TEST(AempRcFile, MergingIsShallowAndNullReplaces) {
  json rc = parse_ok(R"({"binds": ["a:1", "b:2"], "auth_offer": null,
                         "profile": {"p": {"binds": ["c:3"], "obj": {"k": 1}},
                                     "q": {"parent": "p", "obj": {"j": 2}}}})");
  json cfg = resolve_ok(rc, "q");
  EXPECT_EQ(cfg["binds"], json({"c:3"}));
  EXPECT_EQ(cfg["obj"], json({{"j", 2}}));
  EXPECT_TRUE(cfg["auth_offer"].is_null());
}

// ---- binds and seeds ----

TEST(AempRcFile, BindsDefaultToEveryInterfaceSeedsToNone) {
  std::string why;
  EXPECT_EQ(aemp::binds_of(json::object(), why), json({"*"}));
  EXPECT_EQ(aemp::binds_of(json{{"binds", nullptr}}, why), json({"*"}));
  EXPECT_EQ(aemp::binds_of(json{{"binds", ""}}, why), json({"*"}));
  EXPECT_EQ(aemp::binds_of(json{{"binds", json::array()}}, why), json::array());  // [] is true in Perl
  EXPECT_EQ(aemp::seeds_of(json::object(), why), json::array());
  EXPECT_EQ(aemp::seeds_of(json{{"seeds", {"h:1"}}}, why), json({"h:1"}));
  EXPECT_FALSE(aemp::binds_of(json{{"binds", "h:1"}}, why));
  EXPECT_NE(why.find("\"binds\""), std::string::npos) << why;
  EXPECT_FALSE(aemp::seeds_of(json{{"seeds", {{"h", 1}}}}, why));
}

// ---- node ids ----

TEST(AempRcFile, NodeIdDefaultsToProfileSlashThenRandom) {
  std::string why;
  auto pattern = aemp::nodeid_pattern(json::object(), "myprof", why);
  ASSERT_EQ(pattern, "myprof/");
  int calls = 0;
  auto id = aemp::expand_nodeid(*pattern, "host", fixed_random(calls));
  EXPECT_EQ(id.id, "myprof/abcdefghiJ");
  EXPECT_TRUE(id.randomised);
  EXPECT_EQ(calls, 1);
}

TEST(AempRcFile, PercentNIsTheHostName) {
  int calls = 0;
  auto id = aemp::expand_nodeid("%n-node-%n", "box", fixed_random(calls));
  EXPECT_EQ(id.id, "box-node-box");
  EXPECT_FALSE(id.randomised);
  EXPECT_EQ(calls, 0);
}

TEST(AempRcFile, EveryPercentUAndFinalSlashGetTheSameRandomString) {
  int calls = 0;
  auto id = aemp::expand_nodeid("%u/%n/%u/", "box", fixed_random(calls));
  EXPECT_EQ(id.id, "abcdefghiJ/box/abcdefghiJ/abcdefghiJ");
  EXPECT_TRUE(id.randomised);
  EXPECT_EQ(calls, 1);
}

TEST(AempRcFile, HostNameIsExpandedBeforePercentU) {
  int calls = 0;
  EXPECT_EQ(aemp::expand_nodeid("%n", "we%ird/", fixed_random(calls)).id, "we%ird/abcdefghiJ");
  EXPECT_EQ(aemp::expand_nodeid("x%n", "%u", fixed_random(calls)).id, "xabcdefghiJ");
}

TEST(AempRcFile, SlashNotAtTheEndIsLeftAlone) {
  int calls = 0;
  auto id = aemp::expand_nodeid("a/b", "box", fixed_random(calls));
  EXPECT_EQ(id.id, "a/b");
  EXPECT_FALSE(id.randomised);
  EXPECT_EQ(calls, 0);
}

TEST(AempRcFile, FinalSlashBeforeOneTrailingNewlineMatchesLikePerlsDollar) {
  int calls = 0;
  EXPECT_EQ(aemp::expand_nodeid("a/\n", "box", fixed_random(calls)).id, "a/abcdefghiJ\n");
  EXPECT_EQ(aemp::expand_nodeid("a/\n\n", "box", fixed_random(calls)).id, "a/\n\n");
}

TEST(AempRcFile, PlainNodeIdIsLeftAlone) {
  int calls = 0;
  auto id = aemp::expand_nodeid("nodeA", "box", fixed_random(calls));
  EXPECT_EQ(id.id, "nodeA");
  EXPECT_FALSE(id.randomised);
  EXPECT_EQ(calls, 0);
}

TEST(AempRcFile, PerlFalseNodeIdsAreIllegal) {
  for (const json& bad : {json(""), json("0"), json(0), json(nullptr), json(false)}) {
    std::string why;
    EXPECT_FALSE(aemp::nodeid_pattern(json{{"nodeid", bad}}, "p", why)) << bad.dump();
    EXPECT_NE(why.find("illegal node ID"), std::string::npos) << why;
  }
  std::string why;
  EXPECT_FALSE(aemp::nodeid_pattern(json{{"nodeid", {"a"}}}, "p", why));
  EXPECT_EQ(aemp::nodeid_pattern(json{{"nodeid", 7}}, "p", why), "7");
  EXPECT_EQ(aemp::nodeid_pattern(json{{"nodeid", "00"}}, "p", why), "00");  // only "0" is false
}

TEST(AempRcFile, RandomStringIsTenAlphanumericsEndingUppercase) {
  for (int i = 0; i < 50; ++i) {
    std::string r = aemp::random_alnum10();
    ASSERT_EQ(r.size(), 10u);
    for (char c : r) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << r;
    EXPECT_FALSE(std::islower(static_cast<unsigned char>(r.back()))) << r;
  }
  EXPECT_NE(aemp::random_alnum10(), aemp::random_alnum10());
}

TEST(AempRcFile, PerlTruth) {
  for (const json& f : {json(nullptr), json(false), json(0), json(0.0), json(""), json("0")})
    EXPECT_FALSE(aemp::perl_true(f)) << f.dump();
  for (const json& t : {json(true), json(1), json("00"), json("0.0"), json(" "), json::array(), json::object()})
    EXPECT_TRUE(aemp::perl_true(t)) << t.dump();
}

TEST(AempRcFile, HostNameDoesNotFail) { EXPECT_NO_THROW(aemp::host_name()); }
