#include "ipc/config_codec.hpp"

#include "fuzz/ipc_samples.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

using namespace clipal::ipc;
using clipal::test::sample_worker_config;

namespace {

// The sample as a JSON object, for tests that break one field.
boost::json::object sample_json() { return boost::json::parse(to_json(sample_worker_config())).as_object(); }

std::string parse_error(const boost::json::object& o) {
    const auto r = parse_worker_config(boost::json::serialize(o));
    EXPECT_FALSE(r.value);
    return r.error;
}

} // namespace

TEST(ConfigCodec, RoundTripsEveryField) {
    const auto c = sample_worker_config();
    const auto r = parse_worker_config(to_json(c));
    ASSERT_TRUE(r.value) << r.error;
    EXPECT_EQ(*r.value, c);
}

TEST(ConfigCodec, RoundTripsDefaults) {
    worker_config c;
    const auto r = parse_worker_config(to_json(c));
    ASSERT_TRUE(r.value) << r.error;
    EXPECT_EQ(*r.value, c);
}

TEST(ConfigCodec, DurationsAreIntegerNanoseconds) {
    const auto o = sample_json();
    EXPECT_EQ(o.at("global").at("upstream_idle_timeout_ns").as_int64(), 250'000'000);
    EXPECT_EQ(o.at("global").at("reactivate_after_ns").as_int64(), 5'400'000'000'000);
}

TEST(ConfigCodec, NotJsonIsAnError) {
    const auto r = parse_worker_config("{\"profile\": ");
    EXPECT_FALSE(r.value);
    EXPECT_NE(r.error.find("not valid JSON"), std::string::npos) << r.error;
    EXPECT_NE(parse_worker_config("[]").error.find("must be a JSON object"), std::string::npos);
}

TEST(ConfigCodec, UnknownFieldIsNamedWithItsPath) {
    auto o = sample_json();
    o["global"].as_object()["colour"] = "blue";
    EXPECT_EQ(parse_error(o), "global.colour is not a known field");

    o = sample_json();
    o["providers"].as_array()[1].as_object()["weight"] = 3;
    EXPECT_EQ(parse_error(o), "providers[1].weight is not a known field");
}

TEST(ConfigCodec, MissingFieldIsNamed) {
    auto o = sample_json();
    o["disabled"].as_array()[0].as_object().erase("base_url");
    EXPECT_EQ(parse_error(o), "disabled[0].base_url is missing");
    o = sample_json();
    o.erase("global");
    EXPECT_EQ(parse_error(o), "global is missing");
}

TEST(ConfigCodec, OutOfRangeValuesAreRejected) {
    auto o = sample_json();
    o["global"].as_object()["port"] = 0;
    EXPECT_EQ(parse_error(o), "global.port must be an integer from 1 to 65535");
    o["global"].as_object()["port"] = 70000;
    EXPECT_EQ(parse_error(o), "global.port must be an integer from 1 to 65535");

    o = sample_json();
    o["global"].as_object()["response_header_timeout_ns"] = -1;
    EXPECT_NE(parse_error(o).find("global.response_header_timeout_ns must be an integer from 0"), std::string::npos);

    o = sample_json();
    o["global"].as_object()["max_request_body_bytes"] = 0;
    EXPECT_NE(parse_error(o).find("max_request_body_bytes"), std::string::npos);

    o = sample_json();
    o["global"].as_object()["log_level"] = "loud";
    EXPECT_NE(parse_error(o).find("global.log_level is \"loud\""), std::string::npos);

    o = sample_json();
    o["profile"] = "cursor";
    EXPECT_NE(parse_error(o).find("profile is \"cursor\""), std::string::npos);

    o = sample_json();
    o["providers"].as_array()[0].as_object()["auth_header"] = "cookie";
    EXPECT_NE(parse_error(o).find("providers[0].auth_header"), std::string::npos);

    o = sample_json();
    o["providers"].as_array()[0].as_object()["priority"] = 1.5;
    EXPECT_NE(parse_error(o).find("providers[0].priority must be an integer"), std::string::npos);
}

TEST(ConfigCodec, WrongTypesAreRejected) {
    auto o = sample_json();
    o["global"].as_object()["log_stdout"] = "yes";
    EXPECT_EQ(parse_error(o), "global.log_stdout must be true or false");
    o = sample_json();
    o["providers"] = boost::json::object{};
    EXPECT_EQ(parse_error(o), "providers must be an array");
    o = sample_json();
    o["providers"].as_array()[0] = 5;
    EXPECT_EQ(parse_error(o), "providers[0] must be an object");
}

TEST(ConfigCodec, AccessListsMustBeArraysOfStrings) {
    auto o = sample_json();
    o["global"].as_object()["allowed_hosts"] = "clipal.lan";
    EXPECT_EQ(parse_error(o), "global.allowed_hosts must be an array of strings");
    o = sample_json();
    o["global"].as_object()["allowed_origins"] = boost::json::array{"http://localhost:8080", 1};
    EXPECT_EQ(parse_error(o), "global.allowed_origins must be an array of strings");
    o = sample_json();
    o["global"].as_object().erase("access_token");
    EXPECT_EQ(parse_error(o), "global.access_token is missing");
}

TEST(ConfigCodec, ErrorsNeverShowAKey) {
    for (const auto& bad : {boost::json::value("sk-secret-value"), boost::json::value(boost::json::array{}),
                            boost::json::value(boost::json::array{"sk-secret-value", ""}),
                            boost::json::value(boost::json::array{"sk-secret-value", 7})}) {
        auto o = sample_json();
        o["providers"].as_array()[0].as_object()["api_keys"] = bad;
        const auto e = parse_error(o);
        EXPECT_EQ(e, "providers[0].api_keys must be a non-empty array of non-empty strings");
        EXPECT_EQ(e.find("sk-"), std::string::npos);
    }
}

TEST(ConfigCodec, CarriesSeveralKeysTheModelAndKeepState) {
    const auto c = sample_worker_config();
    ASSERT_EQ(c.profile.providers.at(0).api_keys.size(), 3u);
    const auto o = sample_json();
    const auto& primary = o.at("providers").as_array()[0].as_object();
    EXPECT_EQ(primary.at("api_keys"), (boost::json::array{"sk-primary-0123456789abcdef", "sk-primary-second-0123456789",
                                                          "sk-primary-third-0123456789"}));
    EXPECT_EQ(primary.at("model"), "gpt-test-model");
    EXPECT_EQ(o.at("providers").as_array()[1].as_object().at("model"), "");
    EXPECT_EQ(o.at("keep_state"), true);
    const auto r = parse_worker_config(to_json(c));
    ASSERT_TRUE(r.value) << r.error;
    EXPECT_EQ(r.value->profile.providers[0].api_keys, c.profile.providers[0].api_keys);
    EXPECT_EQ(r.value->profile.disabled[0].model, "vendor/model:free");
    EXPECT_TRUE(r.value->keep_state);

    auto off = c;
    off.keep_state = false;
    const auto back = parse_worker_config(to_json(off));
    ASSERT_TRUE(back.value) << back.error;
    EXPECT_FALSE(back.value->keep_state);
}

TEST(ConfigCodec, CarriesTheFailoverSettings) {
    const auto o = sample_json();
    const auto& g = o.at("global").as_object();
    EXPECT_EQ(g.at("stream_first_byte_timeout_ns").as_int64(), 7'000'000'000);
    EXPECT_EQ(g.at("retries_per_provider"), 5);
    EXPECT_EQ(g.at("max_inline_wait_ns"), 0);
    EXPECT_EQ(g.at("failback"), false);
    const auto d = boost::json::parse(to_json(worker_config{})).as_object();
    EXPECT_EQ(d.at("global").at("stream_first_byte_timeout_ns"), 30'000'000'000);
    EXPECT_EQ(d.at("global").at("retries_per_provider"), 1);
    EXPECT_EQ(d.at("global").at("max_inline_wait_ns"), 3'000'000'000);
    EXPECT_EQ(d.at("global").at("failback"), true);
    EXPECT_EQ(d.at("keep_state"), false);
}

TEST(ConfigCodec, NewFieldsAreRequired) {
    for (const char* field :
         {"stream_first_byte_timeout_ns", "retries_per_provider", "max_inline_wait_ns", "failback"}) {
        auto o = sample_json();
        o["global"].as_object().erase(field);
        EXPECT_EQ(parse_error(o), std::string("global.") + field + " is missing");
    }
    for (const char* field : {"api_keys", "model"}) {
        auto o = sample_json();
        o["disabled"].as_array()[0].as_object().erase(field);
        EXPECT_EQ(parse_error(o), std::string("disabled[0].") + field + " is missing");
    }
    auto o = sample_json();
    o.erase("keep_state");
    EXPECT_EQ(parse_error(o), "keep_state is missing");
}

TEST(ConfigCodec, NewFieldsHaveTheirTypesAndRanges) {
    auto o = sample_json();
    o["keep_state"] = 1;
    EXPECT_EQ(parse_error(o), "keep_state must be true or false");
    o = sample_json();
    o["global"].as_object()["failback"] = "no";
    EXPECT_EQ(parse_error(o), "global.failback must be true or false");
    o = sample_json();
    o["global"].as_object()["retries_per_provider"] = 6;
    EXPECT_EQ(parse_error(o), "global.retries_per_provider must be an integer from 0 to 5");
    o["global"].as_object()["retries_per_provider"] = -1;
    EXPECT_EQ(parse_error(o), "global.retries_per_provider must be an integer from 0 to 5");
    o = sample_json();
    o["global"].as_object()["max_inline_wait_ns"] = "3s";
    EXPECT_NE(parse_error(o).find("global.max_inline_wait_ns must be an integer from 0"), std::string::npos);
    o = sample_json();
    o["global"].as_object()["stream_first_byte_timeout_ns"] = -5;
    EXPECT_NE(parse_error(o).find("global.stream_first_byte_timeout_ns must be an integer from 0"), std::string::npos);
    o = sample_json();
    o["providers"].as_array()[1].as_object()["model"] = boost::json::array{};
    EXPECT_EQ(parse_error(o), "providers[1].model must be a string");
    o = sample_json();
    o["providers"].as_array()[1].as_object()["api_key"] = "sk-backup-0123456789abcdef";
    EXPECT_EQ(parse_error(o), "providers[1].api_key is not a known field");
}

TEST(ConfigCodec, MaxConnectionsTravelsAndIsBounded) {
    auto o = sample_json();
    EXPECT_EQ(o["global"].as_object()["max_connections"], 3);
    o["global"].as_object()["max_connections"] = 0;
    EXPECT_NE(parse_error(o).find("global.max_connections must be an integer from 1 to 1000000"), std::string::npos)
        << parse_error(o);
    o["global"].as_object().erase("max_connections");
    EXPECT_EQ(parse_error(o), "global.max_connections is missing");
}
