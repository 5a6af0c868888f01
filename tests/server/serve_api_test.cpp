// The HTTP API over loopback with a fake engine: submissions, progress
// events, results, cancelling, listing, validation, restarts, concurrency and
// the API key. The fake "animates" by copying the motion video, so results are
// real MP4 files with the motion's frame count; the real engine is exercised
// in serve_engine_test.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <limits>
#include <mutex>
#include <set>

#include "media/video.h"
#include "serve/job_queue.h"
#include "serve/media_probe.h"
#include "serve/server.h"
#include "serve_test_support.h"
#include "test_util.h"
#include "util/error.h"

namespace ma::serve {
namespace {

using namespace ma::test;
namespace fs = std::filesystem;

// Reports its denoising steps, optionally waiting at each (held: until
// released; paced: until the test allows that step), then copies the motion
// video to result.mp4 and grid.mp4.
class FakeEngine {
 public:
  void pace() {
    std::lock_guard<std::mutex> lock(mutex_);
    allowed_step_ = 0;
  }
  void allow(int64_t step) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      allowed_step_ = std::max(allowed_step_, step);
    }
    cv_.notify_all();
  }
  void hold() {
    std::lock_guard<std::mutex> lock(mutex_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      held_ = false;
    }
    cv_.notify_all();
  }
  std::vector<std::string> runs() {
    std::lock_guard<std::mutex> lock(mutex_);
    return runs_;
  }

  JobRunner runner() {
    return [this](const JobSpec& job, const ProgressSink& progress, const std::atomic<bool>& stop) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        runs_.push_back(job.id);
      }
      progress(ProgressEvent{"encode"});
      for (int64_t step = 1; step <= job.params.steps; ++step) {
        ProgressEvent e{"denoise", step, job.params.steps, 1, 1};
        progress(e);
        std::unique_lock<std::mutex> lock(mutex_);
        while ((held_ || allowed_step_ < step) && !stop) cv_.wait_for(lock, std::chrono::milliseconds(5));
        if (stop) throw Cancelled();
      }
      progress(ProgressEvent{"done"});
      fs::copy_file(job.motion_path, job.result_path, fs::copy_options::overwrite_existing);
      fs::copy_file(job.motion_path, job.grid_path, fs::copy_options::overwrite_existing);
      JobOutcome out;
      out.frames = probe_video(job.result_path, "result", 4096, 100000).frames;
      out.grid = true;
      return out;
    };
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool held_ = false;
  int64_t allowed_step_ = std::numeric_limits<int64_t>::max();
  std::vector<std::string> runs_;
};

// A Server on a free loopback port, serving from its own thread.
class RunningServer {
 public:
  RunningServer(const ServerOptions& options, JobRunner runner) : server_(options, std::move(runner)) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.run(); });
  }
  ~RunningServer() { stop(); }
  void stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  Server& server() { return server_; }

 private:
  Server server_;
  int port_ = 0;
  std::thread thread_;
};

class ServeApi : public ::testing::Test {
 protected:
  void SetUp() override {
    options.port = 0;
    options.data_dir = data.path();
    options.log_requests = false;
    options.defaults.set_size(64);
    options.defaults.steps = 2;
    options.limits.max_upload_bytes = 1 << 20;
    options.limits.max_frames = 8;
    options.limits.max_resolution = 256;
    options.http_threads = 48;
    source = read_bytes(public_case_dir() + "/source.png");
    motion = read_bytes(make_video(media / "motion.mp4", 3));
  }

  Upload upload(std::vector<std::pair<std::string, std::string>> fields = {}) const {
    Upload u;
    u.source = source;
    u.motion = motion;
    u.fields = std::move(fields);
    return u;
  }

  // Submits and returns the new job's id (fails the test otherwise).
  std::string submit_ok(httplib::Client& c, const Upload& u) {
    Reply r = submit(c, u);
    EXPECT_EQ(r.status, 202) << r.raw;
    return r.body.value("id", "");
  }

  size_t job_folders() const {
    size_t n = 0;
    for (const char* sub : {"jobs", "staging"})
      for ([[maybe_unused]] auto& e : fs::directory_iterator(data / sub)) ++n;
    return n;
  }

  TempDir data, media;
  ServerOptions options;
  FakeEngine engine;
  std::string source, motion;
};

TEST_F(ServeApi, SubmitStreamsProgressThenServesTheResult) {
  RunningServer s(options, engine.runner());
  httplib::Client c = client_for(s.port());
  engine.pace();  // each step waits until its event reached us: no step is coalesced away
  Reply r = submit(c, upload({{"steps", "3"}, {"scheduler", "dpmpp-2m"}, {"seed", "7"}, {"guidance", "4.5"},
                              {"prompt", "dance"}}));
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string id = r.body["id"];
  EXPECT_EQ(r.body["frames"], 3);
  EXPECT_EQ(r.headers.find("Location")->second, "/v1/animations/" + id);

  std::vector<json> events = read_events(s.port(), id, {}, [&](const json& e) {
    if (e["status"] == "running" && e["progress"]["phase"] == "denoise") engine.allow(e["progress"]["step"]);
  });
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["status"], "done");
  std::set<int64_t> steps_seen;
  double last_fraction = 0;
  for (const json& e : events) {
    EXPECT_EQ(e["id"], id);
    if (e["status"] == "running" && e["progress"]["phase"] == "denoise") {
      steps_seen.insert(e["progress"]["step"].get<int64_t>());
      EXPECT_EQ(e["progress"]["steps"], 3);
    }
    double f = e["progress"].is_null() ? 0.0 : e["progress"]["fraction"].get<double>();
    EXPECT_GE(f, last_fraction) << "progress went backwards";
    last_fraction = f;
  }
  EXPECT_EQ(steps_seen, (std::set<int64_t>{1, 2, 3}));
  EXPECT_DOUBLE_EQ(last_fraction, 1.0);

  json job = get(c, "/v1/animations/" + id).body;
  EXPECT_EQ(job["status"], "done");
  EXPECT_EQ(job["params"]["steps"], 3);
  EXPECT_EQ(job["params"]["scheduler"], "dpmpp-2m");
  EXPECT_EQ(job["params"]["seed"], 7);
  EXPECT_EQ(job["params"]["guidance"], 4.5);
  EXPECT_EQ(job["params"]["size"], 64);  // the server's default
  EXPECT_EQ(job["params"]["prompt"], "dance");
  EXPECT_EQ(job["inputs"]["motion"], "motion.mp4");
  EXPECT_TRUE(job["error"].is_null());

  Reply video = get(c, job["result_url"]);
  ASSERT_EQ(video.status, 200);
  EXPECT_EQ(video.headers.find("Content-Type")->second, "video/mp4");
  write_bytes(media / "result.mp4", video.raw);
  EXPECT_EQ(read_video(media / "result.mp4").frames.size(0), 3);
  EXPECT_EQ(get(c, job["grid_url"]).status, 200);

  // Browsers play <video> through range requests.
  auto ranged = c.Get(job["result_url"].get<std::string>().c_str(), {{"Range", "bytes=0-99"}});
  ASSERT_TRUE(ranged);
  EXPECT_EQ(ranged->status, 206);
  EXPECT_EQ(ranged->body, video.raw.substr(0, 100));
}

TEST_F(ServeApi, CancelsQueuedAndRunningJobsAndDeletesFinishedOnes) {
  RunningServer s(options, engine.runner());
  httplib::Client c = client_for(s.port());
  engine.hold();
  const std::string running = submit_ok(c, upload());
  const std::string queued = submit_ok(c, upload());
  wait_for_job(c, running, [](const json& j) { return j["status"] == "running"; });
  EXPECT_EQ(get(c, "/v1/animations/" + queued).body["queue_position"], 1);

  Reply r = reply_of(c.Delete(("/v1/animations/" + queued).c_str()));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body["status"], "cancelled");
  r = reply_of(c.Delete(("/v1/animations/" + running).c_str()));
  EXPECT_EQ(r.body["status"], "cancelled");
  // The engine stops at its next check; the job stays cancelled, with no result.
  std::vector<json> events = read_events(s.port(), running);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["status"], "cancelled");
  EXPECT_EQ(get(c, "/v1/animations/" + queued).body["status"], "cancelled");
  engine.release();

  // The worker goes on with the next job.
  const std::string next = submit_ok(c, upload());
  json done = wait_for_job(c, next, is_finished_status);
  EXPECT_EQ(done["status"], "done");
  EXPECT_EQ(engine.runs(), (std::vector<std::string>{running, next}));  // the cancelled queued job never ran
  Reply no_result = get(c, "/v1/animations/" + running + "/result.mp4");
  EXPECT_EQ(no_result.status, 409);
  EXPECT_NE(no_result.body.value("error", "").find("cancelled"), std::string::npos);

  // DELETE on a finished job removes it and its files.
  r = reply_of(c.Delete(("/v1/animations/" + next).c_str()));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body["deleted"], true);
  EXPECT_EQ(get(c, "/v1/animations/" + next).status, 404);
  EXPECT_FALSE(fs::exists(data / ("jobs/" + next)));
  EXPECT_EQ(reply_of(c.Delete(("/v1/animations/" + next).c_str())).status, 404);
}

TEST_F(ServeApi, ListsJobsNewestFirst) {
  RunningServer s(options, engine.runner());
  httplib::Client c = client_for(s.port());
  EXPECT_EQ(get(c, "/v1/animations").body["animations"].size(), 0u);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    Upload u = upload({{"seed", std::to_string(i)}});
    if (i == 0) u.source_name = "caf\xFF.png";  // a name that is not UTF-8 must not break the JSON
    ids.push_back(submit_ok(c, u));
  }
  for (const std::string& id : ids) wait_for_job(c, id, is_finished_status);
  json list = get(c, "/v1/animations").body["animations"];
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]["id"], ids[2]);
  EXPECT_EQ(list[1]["id"], ids[1]);
  EXPECT_EQ(list[2]["id"], ids[0]);
  EXPECT_EQ(list[2]["params"]["seed"], 0);
  EXPECT_EQ(list[2]["inputs"]["source"], "caf?.png");
  for (const json& j : list) EXPECT_EQ(j["status"], "done");
}

TEST_F(ServeApi, RejectsBadUploadsWithTheReasonAndQueuesNothing) {
  RunningServer s(options, engine.runner());
  httplib::Client c = client_for(s.port());
  const std::string video = motion;
  struct Case {
    std::string name;
    Upload upload;
    int status;
    std::string reason;  // a part of the error message
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, std::function<void(Upload&)> change, int status, std::string reason) {
    Upload u = upload();
    change(u);
    cases.push_back({std::move(name), u, status, std::move(reason)});
  };
  add("not an image", [](Upload& u) { u.source = "GIF? no, plain text"; }, 415, "source: not a decodable image");
  add("video as the image", [&](Upload& u) { u.source = video; }, 415, "source: not a still image");
  add("truncated video", [&](Upload& u) { u.motion = video.substr(0, video.size() / 2); }, 415,
      "motion: corrupt or truncated");
  add("text as the video", [](Upload& u) { u.motion = "not a video"; }, 415, "motion: not a decodable video");
  add("zero frames", [&](Upload& u) { u.motion = read_bytes(make_empty_video(media / "empty.gif")); }, 422,
      "no frames");
  add("too many frames", [&](Upload& u) { u.motion = read_bytes(make_video(media / "long.mp4", 9)); }, 413,
      "more than 8 frames");
  add("resolution", [&](Upload& u) { u.motion = read_bytes(make_video(media / "big.mp4", 2, 320, 64)); }, 413,
      "320x64");
  add("huge upload", [](Upload& u) { u.motion = std::string(2 << 20, 'x'); }, 413, "upload too large");
  add("missing motion", [](Upload& u) { u.motion_name.clear(); }, 400, "missing field 'motion'");
  add("missing source", [](Upload& u) { u.source_name.clear(); }, 400, "missing field 'source'");
  add("empty source", [](Upload& u) { u.source.clear(); }, 400, "source: the file is empty");
  add("steps zero", [](Upload& u) { u.fields = {{"steps", "0"}}; }, 400, "steps");
  add("steps text", [](Upload& u) { u.fields = {{"steps", "many"}}; }, 400, "steps");
  add("guidance", [](Upload& u) { u.fields = {{"guidance", "-2"}}; }, 400, "guidance");
  add("scheduler", [](Upload& u) { u.fields = {{"scheduler", "euler"}}; }, 400,
      "scheduler: must be one of ddim, dpmpp-2m, got 'euler'");
  add("seed", [](Upload& u) { u.fields = {{"seed", "-1"}}; }, 400, "seed");
  add("size", [](Upload& u) { u.fields = {{"size", "70"}}; }, 400, "size");
  add("overlap", [](Upload& u) { u.fields = {{"context", "4"}, {"overlap", "4"}}; }, 400, "overlap");
  add("unknown field", [](Upload& u) { u.fields = {{"stpes", "3"}}; }, 400, "unknown field 'stpes'");

  for (const Case& k : cases) {
    Reply r = submit(c, k.upload);
    EXPECT_EQ(r.status, k.status) << k.name << ": " << r.raw;
    ASSERT_TRUE(r.body.is_object()) << k.name << ": not JSON: " << r.raw;
    EXPECT_NE(r.body.value("error", "").find(k.reason), std::string::npos)
        << k.name << ": error '" << r.body.value("error", "") << "' should mention '" << k.reason << "'";
  }
  Reply form = reply_of(c.Post("/v1/animations", "source=1", "application/x-www-form-urlencoded"));
  EXPECT_EQ(form.status, 400);
  EXPECT_NE(form.body.value("error", "").find("multipart/form-data"), std::string::npos);

  EXPECT_EQ(get(c, "/v1/animations").body["animations"].size(), 0u);
  EXPECT_EQ(s.server().queue().waiting(), 0u);
  EXPECT_EQ(job_folders(), 0u) << "a rejected upload left files behind";
  EXPECT_TRUE(engine.runs().empty());
  // And the server still takes a good one.
  json job = wait_for_job(c, submit_ok(c, upload()), is_finished_status);
  EXPECT_EQ(job["status"], "done");
}

TEST_F(ServeApi, ExtractPoseIsRefusedWithoutDenseposeWeightsAndRunsWithThem) {
  {
    RunningServer s(options, engine.runner());
    httplib::Client c = client_for(s.port());
    Reply r = submit(c, upload({{"extract_pose", "true"}}));
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_NE(r.body.value("error", "").find("start it with --densepose-weights"), std::string::npos) << r.raw;
    r = submit(c, upload({{"extract_pose", "maybe"}}));
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_NE(r.body.value("error", "").find("extract_pose: must be true or false"), std::string::npos) << r.raw;
    EXPECT_EQ(job_folders(), 0u) << "a rejected upload left files behind";
    EXPECT_TRUE(engine.runs().empty());
    // A motion video as before: extract_pose=false changes nothing.
    json job = wait_for_job(c, submit_ok(c, upload({{"extract_pose", "false"}})), is_finished_status);
    EXPECT_EQ(job["status"], "done");
    EXPECT_EQ(job["params"]["extract_pose"], false);
  }
  options.extract_pose = true;  // serve --densepose-weights FILE
  RunningServer s(options, engine.runner());
  httplib::Client c = client_for(s.port());
  Reply r = submit(c, upload({{"extract_pose", "true"}}));
  ASSERT_EQ(r.status, 202) << r.raw;
  EXPECT_EQ(r.body["frames"], 3);  // the 25 fps upload keeps its frames once resampled
  json job = wait_for_job(c, r.body["id"].get<std::string>(), is_finished_status);
  EXPECT_EQ(job["status"], "done");
  EXPECT_EQ(job["params"]["extract_pose"], true);  // the runner is told to extract (engine_runner.cpp)
}

TEST_F(ServeApi, RestartKeepsFinishedJobsAndRunsQueuedAndInterruptedOnes) {
  std::string finished, interrupted, queued, finished_video;
  {
    RunningServer s(options, engine.runner());
    httplib::Client c = client_for(s.port());
    finished = submit_ok(c, upload());
    wait_for_job(c, finished, is_finished_status);
    finished_video = get(c, "/v1/animations/" + finished + "/result.mp4").raw;
    engine.hold();
    interrupted = submit_ok(c, upload({{"seed", "11"}}));
    queued = submit_ok(c, upload({{"seed", "12"}}));
    wait_for_job(c, interrupted, [](const json& j) { return j["status"] == "running"; });
    s.stop();  // like Ctrl-C: the running job is interrupted
  }
  engine.release();

  FakeEngine second;
  RunningServer s(options, second.runner());
  httplib::Client c = client_for(s.port());
  json list = get(c, "/v1/animations").body["animations"];
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[2]["id"], finished);
  EXPECT_EQ(list[2]["status"], "done");
  EXPECT_EQ(get(c, "/v1/animations/" + finished + "/result.mp4").raw, finished_video);

  json a = wait_for_job(c, interrupted, is_finished_status);
  json b = wait_for_job(c, queued, is_finished_status);
  EXPECT_EQ(a["status"], "done");
  EXPECT_EQ(b["status"], "done");
  EXPECT_EQ(a["params"]["seed"], 11);
  EXPECT_EQ(b["params"]["seed"], 12);
  EXPECT_EQ(second.runs(), (std::vector<std::string>{interrupted, queued}));  // in submission order
  EXPECT_EQ(get(c, "/v1/animations/" + queued + "/result.mp4").status, 200);
}

TEST_F(ServeApi, TwentyConcurrentSubmissionsAllFinish) {
  RunningServer s(options, engine.runner());
  constexpr int kJobs = 20;
  std::vector<std::string> ids(kJobs), failures(kJobs);
  std::vector<std::thread> clients;
  std::atomic<bool> go{false};
  for (int i = 0; i < kJobs; ++i)
    clients.emplace_back([&, i] {
      httplib::Client c = client_for(s.port());
      while (!go) std::this_thread::yield();
      auto result = c.Post("/v1/animations", upload({{"seed", std::to_string(i)}}).items());
      Reply r = reply_of(result);
      if (r.status == 202)
        ids[i] = r.body["id"];
      else
        failures[i] = std::to_string(r.status) + " " + r.raw + " " + httplib::to_string(result.error());
    });
  go = true;
  for (std::thread& t : clients) t.join();

  for (const std::string& f : failures) EXPECT_EQ(f, "");
  std::set<std::string> distinct(ids.begin(), ids.end());
  ASSERT_EQ(distinct.size(), size_t(kJobs)) << "some submissions failed or shared an id";
  ASSERT_FALSE(distinct.count(""));
  httplib::Client c = client_for(s.port());
  for (int i = 0; i < kJobs; ++i) {
    json job = wait_for_job(c, ids[i], is_finished_status);
    EXPECT_EQ(job["status"], "done");
    EXPECT_EQ(job["params"]["seed"], i);
    EXPECT_EQ(get(c, "/v1/animations/" + ids[i] + "/result.mp4").status, 200);
  }
  EXPECT_EQ(get(c, "/v1/animations").body["animations"].size(), size_t(kJobs));
  std::vector<std::string> runs = engine.runs();
  EXPECT_EQ(runs.size(), size_t(kJobs));
  EXPECT_EQ(std::set<std::string>(runs.begin(), runs.end()), distinct) << "a job ran twice or never";
}

TEST_F(ServeApi, ApiKeyGuardsEveryApiCall) {
  options.api_key = "s3cret";
  RunningServer s(options, engine.runner());
  httplib::Client anonymous = client_for(s.port());
  httplib::Client wrong = client_for(s.port(), {{"Authorization", "Bearer nope"}});
  httplib::Client bearer = client_for(s.port(), {{"Authorization", "Bearer s3cret"}});
  httplib::Client header = client_for(s.port(), {{"X-API-Key", "s3cret"}});

  Reply r = submit(anonymous, upload());
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.value("error", "").find("API key"), std::string::npos);
  EXPECT_EQ(submit(wrong, upload()).status, 401);
  EXPECT_EQ(submit(wrong, upload()).body.value("error", ""), "wrong API key");
  EXPECT_EQ(get(anonymous, "/v1/animations").status, 401);
  EXPECT_EQ(get(bearer, "/v1/animations").body["animations"].size(), 0u) << "a refused submission was queued";

  const std::string id = submit_ok(bearer, upload());
  wait_for_job(header, id, is_finished_status);
  for (const std::string& path : {"/v1/animations/" + id, "/v1/animations/" + id + "/events",
                                  "/v1/animations/" + id + "/result.mp4", "/v1/animations/" + id + "/grid.mp4"}) {
    EXPECT_EQ(get(anonymous, path).status, 401) << path;
    EXPECT_EQ(get(header, path).status, 200) << path;
  }
  EXPECT_EQ(reply_of(anonymous.Delete(("/v1/animations/" + id).c_str())).status, 401);
  EXPECT_EQ(get(header, "/v1/animations/" + id).status, 200) << "an unauthorised DELETE removed the job";
  // The page and the health check stay open, so the page can ask for the key.
  EXPECT_EQ(get(anonymous, "/health").status, 200);
  EXPECT_EQ(get(anonymous, "/health").body["api_key_required"], true);
  EXPECT_EQ(get(anonymous, "/").status, 200);
}

TEST_F(ServeApi, ServesThePageAndJsonErrorsForEverythingElse) {
  RunningServer s(options, engine.runner());
  httplib::Client c = client_for(s.port());
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(page->body.find("<title>MagicAnimate"), std::string::npos);
  auto script = c.Get("/app.js");
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200);
  EXPECT_NE(script->get_header_value("Content-Type").find("javascript"), std::string::npos);

  for (const char* path : {"/nope.html", "/../CMakeLists.txt", "/%2e%2e/CMakeLists.txt", "/v1/nothing",
                           "/v1/animations/0123456789abcdef", "/v1/animations/..%2f..%2fetc",
                           "/v1/animations/0123456789abcdef/events"}) {
    Reply r = get(c, path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_TRUE(r.body.is_object() && r.body.contains("error")) << path << ": " << r.raw;
  }
  json health = get(c, "/health").body;
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["defaults"]["size"], 64);
  EXPECT_EQ(health["limits"]["max_frames"], 8);
}

TEST_F(ServeApi, StopsPromptlyWithAnEventStreamOpenAndAJobRunning) {
  auto s = std::make_unique<RunningServer>(options, engine.runner());
  httplib::Client c = client_for(s->port());
  engine.hold();
  const std::string id = submit_ok(c, upload());
  wait_for_job(c, id, [](const json& j) { return j["status"] == "running"; });
  std::thread watcher([port = s->port(), id] { read_events(port, id); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the stream open
  s->stop();  // returns (no hang) although a client is still reading events
  watcher.join();
  s.reset();
  JobStore store(data / "jobs.sqlite");
  EXPECT_EQ(store.get(id)->status, JobStatus::queued) << "an interrupted job must run again after a restart";
}

}  // namespace
}  // namespace ma::serve
