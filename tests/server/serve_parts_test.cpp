// The server's building blocks on their own: the SQLite job store, parameter
// validation, the event-stream framing and the upload probe.
#include <gtest/gtest.h>

#include "serve/data_dir.h"
#include "serve/job_store.h"
#include "serve/media_probe.h"
#include "serve/request_error.h"
#include "serve/sse.h"
#include "serve/validation.h"
#include "serve/web_assets.h"
#include "serve_test_support.h"
#include "test_util.h"

namespace ma::serve {
namespace {

using ma::test::TempDir;

JobRecord sample_job(const std::string& id) {
  JobRecord j;
  j.id = id;
  j.params.steps = 3;
  j.params.guidance = 2.5;
  j.params.seed = 18446744073709551615ull;  // the full uint64 range survives
  j.params.set_size(64);
  j.params.prompt = "a \"quoted\" prompt, with unicode \xC3\xA9";
  j.source_name = "source.png";
  j.motion_name = "motion.mp4";
  j.source_upload = "me.png";
  j.motion_upload = "dance.mp4";
  j.frames = 7;
  j.created_at = 1700000000;
  return j;
}

TEST(JobStore, KeepsJobsAcrossReopening) {
  TempDir dir;
  const std::string db = dir / "jobs.sqlite";
  {
    JobStore store(db);
    JobRecord a = sample_job("aaaaaaaaaaaaaaaa"), b = sample_job("bbbbbbbbbbbbbbbb");
    store.insert(a);
    store.insert(b);
    EXPECT_LT(a.seq, b.seq);
    b.status = JobStatus::done;
    b.has_result = b.has_grid = true;
    b.started_at = 1700000001;
    b.finished_at = 1700000002;
    store.update(b);
    JobRecord dup = sample_job("aaaaaaaaaaaaaaaa");
    EXPECT_THROW(store.insert(dup), Error);
  }
  JobStore store(db);
  std::vector<JobRecord> jobs = store.list();
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, "aaaaaaaaaaaaaaaa");  // oldest first
  EXPECT_EQ(jobs[0].status, JobStatus::queued);
  const JobRecord& b = jobs[1];
  EXPECT_EQ(b.status, JobStatus::done);
  EXPECT_TRUE(b.has_result);
  EXPECT_EQ(b.finished_at, 1700000002);
  EXPECT_EQ(b.params.seed, 18446744073709551615ull);
  EXPECT_EQ(b.params.prompt, sample_job("x").params.prompt);
  EXPECT_DOUBLE_EQ(b.params.guidance, 2.5);
  EXPECT_EQ(b.frames, 7);
  EXPECT_EQ(b.motion_upload, "dance.mp4");
  store.remove("aaaaaaaaaaaaaaaa");
  EXPECT_FALSE(store.get("aaaaaaaaaaaaaaaa").has_value());
  EXPECT_TRUE(store.get("bbbbbbbbbbbbbbbb").has_value());
}

TEST(JobStore, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  ma::test::write_bytes(dir / "jobs.sqlite", std::string(4096, 'x'));
  EXPECT_THROW(JobStore(dir / "jobs.sqlite"), Error);
}

// Runs parse_job_params on `fields`; returns the error text ("" if accepted).
std::string param_error(const std::map<std::string, std::string>& fields, JobParams* out = nullptr) {
  Limits limits;
  limits.max_steps = 50;
  limits.max_size = 512;
  try {
    JobParams p = parse_job_params(
        [&](const std::string& name) -> std::optional<std::string> {
          auto it = fields.find(name);
          if (it == fields.end()) return std::nullopt;
          return it->second;
        },
        JobParams{}, limits);
    if (out) *out = p;
    return "";
  } catch (const RequestError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.what();
  }
}

TEST(Validation, ParsesEveryFieldAndKeepsDefaults) {
  JobParams p;
  ASSERT_EQ(param_error({{"steps", " 12 "}, {"guidance", "3.5"}, {"seed", "42"}, {"size", "128"}, {"prompt", "hi"}}, &p),
            "");
  EXPECT_EQ(p.steps, 12);
  EXPECT_DOUBLE_EQ(p.guidance, 3.5);
  EXPECT_EQ(p.seed, 42u);
  EXPECT_EQ(p.width, 128);
  EXPECT_EQ(p.height, 128);
  EXPECT_EQ(p.prompt, "hi");
  EXPECT_EQ(p.context, JobParams{}.context);  // untouched
  EXPECT_EQ(p.overlap, JobParams{}.overlap);
  EXPECT_EQ(p.length_multiple, 16);  // the original's L unless a job says otherwise
}

TEST(Validation, TheOriginalsLIsItsOwnFieldDistinctFromContext) {
  JobParams p;
  ASSERT_EQ(param_error({{"context", "8"}, {"overlap", "2"}, {"L", "12"}}, &p), "");
  EXPECT_EQ(p.context, 8);
  EXPECT_EQ(p.length_multiple, 12);
  EXPECT_EQ(p.animation().length_multiple, 12);  // what the engine pads the motion to
  const JobParams back = job_params_from_json(to_json(p));  // a stored job keeps it
  EXPECT_EQ(back.length_multiple, 12);
  EXPECT_EQ(job_params_from_json(nlohmann::json{{"steps", 3}}).length_multiple, 16);  // stored before L existed
  EXPECT_NE(param_error({{"L", "0"}}).find("L: must be an integer from 1 to 256"), std::string::npos);
  EXPECT_NE(param_error({{"L", "257"}}).find("L"), std::string::npos);
}

// A non-square default (the models' native size) is kept by a job that gives
// no size and survives the store; a given size makes it square; a job stored
// before width/height existed reads its "size".
TEST(Validation, ANonSquareDefaultSizeIsKeptUnlessASizeIsGiven) {
  JobParams defaults;
  defaults.width = 128;
  defaults.height = 64;
  const JobParams kept = parse_job_params([](const std::string&) { return std::nullopt; }, defaults, Limits{});
  EXPECT_EQ(kept.animation().width, 128);
  EXPECT_EQ(kept.animation().height, 64);
  const nlohmann::json stored = to_json(kept);
  EXPECT_TRUE(stored["size"].is_null()) << stored.dump();
  const JobParams back = job_params_from_json(stored);
  EXPECT_EQ(back.width, 128);
  EXPECT_EQ(back.height, 64);
  const JobParams square = parse_job_params(
      [](const std::string& name) -> std::optional<std::string> {
        if (name == "size") return "256";
        return std::nullopt;
      },
      defaults, Limits{});
  EXPECT_EQ(square.width, 256);
  EXPECT_EQ(square.height, 256);
  EXPECT_EQ(to_json(square)["size"], 256);
  const JobParams old = job_params_from_json(nlohmann::json{{"size", 96}});
  EXPECT_EQ(old.width, 96);
  EXPECT_EQ(old.height, 96);
  defaults.height = 60;
  EXPECT_THROW(check_job_params(defaults, Limits{}), RequestError);
}

// "scheduler" picks the sampler (ddim unless a job says otherwise); a stored
// job keeps it, one stored before it existed is DDIM; another name is a 400.
TEST(Validation, SchedulerIsAFieldDefaultingToDdim) {
  JobParams p;
  ASSERT_EQ(param_error({}, &p), "");
  EXPECT_EQ(p.scheduler, "ddim");
  ASSERT_EQ(param_error({{"scheduler", " dpmpp-2m "}}, &p), "");
  EXPECT_EQ(p.animation().scheduler, "dpmpp-2m");
  EXPECT_EQ(job_params_from_json(to_json(p)).scheduler, "dpmpp-2m");
  EXPECT_EQ(job_params_from_json(nlohmann::json{{"steps", 3}}).scheduler, "ddim");  // stored before it existed
  EXPECT_EQ(param_error({{"scheduler", "euler"}}), "scheduler: must be one of ddim, dpmpp-2m, got 'euler'");
  EXPECT_NE(param_error({{"scheduler", ""}}).find("scheduler: must be one of"), std::string::npos);
}

// "deep_cache" (the --deep-cache interval) is off (1) unless a job sets it;
// a stored job keeps it; one stored before it existed is off; out of range is a 400.
TEST(Validation, DeepCacheIsAFieldDefaultingToOff) {
  JobParams p;
  ASSERT_EQ(param_error({}, &p), "");
  EXPECT_EQ(p.deep_cache, 1);
  ASSERT_EQ(param_error({{"deep_cache", "3"}}, &p), "");
  EXPECT_EQ(p.animation().deep_cache, 3);
  EXPECT_EQ(job_params_from_json(to_json(p)).deep_cache, 3);
  EXPECT_EQ(job_params_from_json(nlohmann::json{{"steps", 3}}).deep_cache, 1);
  EXPECT_EQ(param_error({{"deep_cache", "0"}}), "deep_cache: must be an integer from 1 to 20, got '0'");
  EXPECT_NE(param_error({{"deep_cache", "x"}}).find("deep_cache: must be"), std::string::npos);
}

TEST(Validation, NamesTheFieldAndTheRange) {
  EXPECT_NE(param_error({{"steps", "0"}}).find("steps"), std::string::npos);
  EXPECT_NE(param_error({{"steps", "51"}}).find("1 to 50"), std::string::npos);
  EXPECT_NE(param_error({{"steps", "3x"}}).find("steps"), std::string::npos);
  EXPECT_NE(param_error({{"steps", "2.5"}}).find("integer"), std::string::npos);
  EXPECT_NE(param_error({{"guidance", "nan"}}).find("guidance"), std::string::npos);
  EXPECT_NE(param_error({{"guidance", "-1"}}).find("guidance"), std::string::npos);
  EXPECT_NE(param_error({{"seed", "-1"}}).find("seed"), std::string::npos);
  EXPECT_NE(param_error({{"seed", "99999999999999999999999"}}).find("seed"), std::string::npos);
  EXPECT_NE(param_error({{"size", "100"}}).find("multiple of 8"), std::string::npos);
  EXPECT_NE(param_error({{"size", "1024"}}).find("size"), std::string::npos);
  EXPECT_NE(param_error({{"context", "25"}}).find("context"), std::string::npos);
  EXPECT_NE(param_error({{"context", "8"}, {"overlap", "8"}}).find("overlap"), std::string::npos);
  EXPECT_NE(param_error({{"prompt", std::string(3000, 'a')}}).find("prompt"), std::string::npos);
  EXPECT_EQ(param_error({{"context", "8"}, {"overlap", "7"}}), "");
}

TEST(Validation, TextMustBeUtf8AndNamesAreMadeDisplayable) {
  EXPECT_TRUE(is_valid_utf8("plain, caf\xC3\xA9, \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("cut \xC3"));
  EXPECT_FALSE(is_valid_utf8("overlong \xC0\xAF"));
  EXPECT_FALSE(is_valid_utf8("surrogate \xED\xA0\x80"));
  EXPECT_NE(param_error({{"prompt", "bad \xFF byte"}}).find("UTF-8"), std::string::npos);
  EXPECT_EQ(display_name("caf\xC3\xA9\xFF.png"), "caf\xC3\xA9?.png");
  EXPECT_EQ(display_name("two\nlines"), "two_lines");
  EXPECT_EQ(display_name(std::string(500, 'a')).size(), 200u);
}

TEST(Validation, UploadExtensionsAreSafe) {
  EXPECT_EQ(upload_extension("Photo.JPG", "img"), "jpg");
  EXPECT_EQ(upload_extension("clip.tar.mp4", "video"), "mp4");
  EXPECT_EQ(upload_extension("noext", "img"), "img");
  EXPECT_EQ(upload_extension("../../etc/passwd", "img"), "img");
  EXPECT_EQ(upload_extension("x.p/ng", "img"), "img");
  EXPECT_EQ(upload_extension("x.waytoolong", "img"), "img");
}

TEST(JobIds, AreRandomHexAndCheckedBeforeUseInPaths) {
  std::string a = new_job_id(), b = new_job_id();
  EXPECT_NE(a, b);
  EXPECT_TRUE(is_valid_job_id(a));
  EXPECT_FALSE(is_valid_job_id("../../etc/passwd"));
  EXPECT_FALSE(is_valid_job_id("ABCDEF0123456789"));
  EXPECT_FALSE(is_valid_job_id(a + "0"));
}

TEST(Sse, ParserReadsWhatTheServerWritesInAnyChunking) {
  std::string stream = sse_event("progress", "{\"a\":1}", 3) + sse_keepalive() + sse_event("progress", "line1\nline2") +
                       sse_event("deleted", "{}");
  for (size_t chunk : {size_t(1), size_t(7), stream.size()}) {
    SseParser parser;
    std::vector<SseEvent> events;
    for (size_t i = 0; i < stream.size(); i += chunk)
      for (SseEvent& e : parser.feed(stream.substr(i, chunk))) events.push_back(e);
    ASSERT_EQ(events.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(events[0].event, "progress");
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[1].data, "line1\nline2");
    EXPECT_EQ(events[2].event, "deleted");
  }
}

TEST(MediaProbe, AcceptsTheFixturesAndCountsFrames) {
  TempDir dir;
  MediaInfo image = probe_image(ma::test::public_case_dir() + "/source.png", "source", 4096);
  EXPECT_EQ(image.width, 64);
  EXPECT_EQ(image.height, 64);
  MediaInfo video = probe_video(ma::test::make_video(dir / "v.mp4", 5, 48, 32), "motion", 4096, 100);
  EXPECT_EQ(video.frames, 5);
  EXPECT_EQ(video.width, 48);
  EXPECT_EQ(video.height, 32);
}

// The status and message of the RequestError `probe` throws.
std::pair<int, std::string> probe_failure(const std::function<void()>& probe) {
  try {
    probe();
  } catch (const RequestError& e) {
    return {e.status(), e.what()};
  }
  return {0, "accepted"};
}

TEST(MediaProbe, RejectsWhatTheEngineCouldNotUse) {
  TempDir dir;
  const std::string video = ma::test::make_video(dir / "v.mp4", 6);
  const std::string bytes = ma::test::read_bytes(video);
  ma::test::write_bytes(dir / "half.mp4", bytes.substr(0, bytes.size() / 2));
  ma::test::write_bytes(dir / "text.png", "this is not a picture");

  auto r = probe_failure([&] { probe_video(dir / "half.mp4", "motion", 4096, 100); });
  EXPECT_EQ(r.first, 415) << r.second;
  EXPECT_NE(r.second.find("motion"), std::string::npos);

  r = probe_failure([&] { probe_video(ma::test::make_empty_video(dir / "empty.gif"), "motion", 4096, 100); });
  EXPECT_EQ(r.first, 422) << r.second;
  EXPECT_NE(r.second.find("no frames"), std::string::npos);

  r = probe_failure([&] { probe_video(video, "motion", 4096, 5); });
  EXPECT_EQ(r.first, 413) << r.second;
  EXPECT_NE(r.second.find("more than 5 frames"), std::string::npos);

  r = probe_failure([&] { probe_video(video, "motion", 32, 100); });
  EXPECT_EQ(r.first, 413) << r.second;
  EXPECT_NE(r.second.find("64x64"), std::string::npos);

  r = probe_failure([&] { probe_image(dir / "text.png", "source", 4096); });
  EXPECT_EQ(r.first, 415) << r.second;
  EXPECT_NE(r.second.find("source"), std::string::npos);

  r = probe_failure([&] { probe_image(video, "source", 4096); });
  EXPECT_EQ(r.first, 415) << r.second;
  EXPECT_NE(r.second.find("not a still image"), std::string::npos);
}

TEST(WebAssets, TheBuiltInPageIsTheOneInTheSourceTree) {
  // Embedded (cmake/web_assets.cmake) or read from MA_WEB_DIR, the page must
  // be byte for byte what web/ holds: a stale embedded copy fails here.
  WebAssets web;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(MA_SOURCE_DIR) + "/web")) {
    const std::string name = entry.path().filename().string();
    std::optional<WebFile> file = web.get("/" + name);
    ASSERT_TRUE(file.has_value()) << name << " is not served (" << web.origin() << ")";
    EXPECT_EQ(file->body, ma::test::read_bytes(entry.path().string())) << name << " differs from web/" << name;
    ++files;
  }
  EXPECT_GE(files, 3);
  ASSERT_TRUE(web.get("/").has_value());
  EXPECT_EQ(web.get("/")->content_type, "text/html; charset=utf-8");
}

TEST(WebAssets, AFolderServesOnlyItsOwnPlainFiles) {
  TempDir dir;
  std::filesystem::create_directories(dir / "web/sub");
  ma::test::write_bytes(dir / "web/index.html", "<p>hi</p>");
  ma::test::write_bytes(dir / "web/a.js", "1");
  ma::test::write_bytes(dir / "web/.secret", "s");
  ma::test::write_bytes(dir / "web/sub/b.css", "b");
  ma::test::write_bytes(dir / "outside.txt", "o");
  WebAssets web(dir / "web");
  ASSERT_TRUE(web.get("/").has_value());
  EXPECT_EQ(web.get("/")->body, "<p>hi</p>");
  EXPECT_EQ(web.get("/a.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_FALSE(web.get("/../outside.txt").has_value());
  EXPECT_FALSE(web.get("/.secret").has_value());
  EXPECT_FALSE(web.get("/sub/b.css").has_value());
  EXPECT_FALSE(web.get("/missing.html").has_value());
}

}  // namespace
}  // namespace ma::serve
