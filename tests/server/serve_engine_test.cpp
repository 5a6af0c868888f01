// `magicanimate serve` end to end: the real program (MA_BINARY) with the tiny
// fixture models on loopback. One flow, to pay for the engine runs once:
// submit -> progress events -> result and grid MP4s with the right frame
// count; then a finished job and an interrupted one survive a SIGTERM restart
// and the interrupted one completes. The API key comes from the environment.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "media/image.h"
#include "media/video.h"
#include "serve/job_store.h"
#include "native_models.h"
#include "serve_test_support.h"
#include "test_util.h"

namespace ma::test {
namespace {

// The server program in a child process, its output in a log file.
class ServerProcess {
 public:
  // `size` is the --size flag's arguments (none: the models' native size, else 512).
  ServerProcess(const std::string& data_dir, const std::string& log_path, const std::string& models = models_dir(),
                const std::vector<std::string>& size = {"--size", "64"})
      : log_(log_path) {
    std::vector<std::string> args = {MA_BINARY, "serve",     "--models",  models,       "--port",  "0",
                                     "--data",  data_dir,    "--steps",   "2",
                                     "--context", "4",       "--overlap", "1",          "--threads", "2"};
    args.insert(args.end(), size.begin(), size.end());
    pid_ = fork();
    if (pid_ == 0) {
      FILE* log = std::fopen(log_path.c_str(), "w");
      if (log) {
        dup2(fileno(log), 1);
        dup2(fileno(log), 2);
      }
      setenv("MAGICANIMATE_API_KEY", "e2e-key", 1);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(MA_BINARY, argv.data());
      _exit(127);
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Waits for "listening on http://127.0.0.1:PORT/" in the log; 0 if the
  // program exited first (the log says why).
  int port() {
    const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+)/)");
    for (int i = 0; i < 3000; ++i) {  // a safety net of 5 minutes, not a timing check
      std::smatch m;
      std::string log = read_bytes(log_);
      if (std::regex_search(log, m, listening)) return std::stoi(m[1]);
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return 0;
  }

  // SIGTERM, then the exit status (-1: killed by a signal).
  int terminate() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string log() const { return read_bytes(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

const httplib::Headers kKey = {{"X-API-Key", "e2e-key"}};

// The first `frames` DensePose frames of the public case as an MP4.
std::string make_motion(const std::string& path, int frames) {
  std::vector<at::Tensor> list;
  char name[32];
  for (int i = 0; i < frames; ++i) {
    std::snprintf(name, sizeof(name), "/control/%04d.png", i);
    list.push_back(read_image_rgb(public_case_dir() + name));
  }
  write_video(path, at::stack(list), 25.0);
  return path;
}

DecodedVideo fetch_video(httplib::Client& c, const std::string& url, const std::string& path) {
  Reply r = get(c, url);
  EXPECT_EQ(r.status, 200) << url << ": " << r.raw.substr(0, 200);
  write_bytes(path, r.raw);
  return read_video(path);
}

TEST(ServeEngine, AnimatesAndSurvivesARestart) {
  TempDir dir;
  const std::string data = dir / "data";
  Upload upload;
  upload.source = read_bytes(public_case_dir() + "/source.png");
  upload.motion = read_bytes(make_motion(dir / "motion.mp4", 3));

  std::string finished, interrupted, finished_video;
  {
    ServerProcess server(data, dir / "first.log");
    const int port = server.port();
    ASSERT_NE(port, 0) << server.log();
    httplib::Client anonymous = client_for(port);
    httplib::Client c = client_for(port, kKey);
    EXPECT_EQ(get(anonymous, "/v1/animations").status, 401) << "the key from MAGICANIMATE_API_KEY is not enforced";

    Reply r = submit(c, upload);
    ASSERT_EQ(r.status, 202) << r.raw;
    finished = r.body["id"];
    EXPECT_EQ(r.body["frames"], 3);

    std::vector<json> events = read_events(port, finished, kKey);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["status"], "done") << events.back().dump();
    bool saw_denoise = false;
    for (const json& e : events)
      if (e["status"] == "running" && e["progress"]["phase"] == "denoise") {
        saw_denoise = true;
        EXPECT_EQ(e["progress"]["steps"], 2);
        EXPECT_GE(e["progress"]["step"].get<int64_t>(), 1);
      }
    EXPECT_TRUE(saw_denoise) << "no denoising progress was streamed";

    json job = get(c, "/v1/animations/" + finished).body;
    EXPECT_EQ(job["frames"], 3);
    DecodedVideo result = fetch_video(c, job["result_url"], dir / "result.mp4");
    ASSERT_EQ(result.frames.dim(), 4);
    EXPECT_EQ(result.frames.size(0), 3);
    EXPECT_EQ(result.frames.size(1), 64);
    EXPECT_EQ(result.frames.size(2), 64);
    DecodedVideo grid = fetch_video(c, job["grid_url"], dir / "grid.mp4");
    EXPECT_EQ(grid.frames.size(0), 3);
    EXPECT_EQ(grid.frames.size(2), 3 * 66 + 2);  // source | control | result, 2-pixel padding
    finished_video = read_bytes(dir / "result.mp4");

    // A second job, stopped mid-run by SIGTERM: it must run again after a restart.
    r = submit(c, upload);
    ASSERT_EQ(r.status, 202) << r.raw;
    interrupted = r.body["id"];
    wait_for_job(c, interrupted, [](const json& j) { return j["status"] != "queued"; });
    EXPECT_EQ(server.terminate(), 0) << server.log();
  }
  {
    serve::JobStore store(data + "/jobs.sqlite");
    EXPECT_EQ(store.get(interrupted)->status, serve::JobStatus::queued) << "the stopped job should wait for a rerun";
    EXPECT_FALSE(std::filesystem::exists(data + "/jobs/" + interrupted + "/result.mp4"));
  }

  ServerProcess server(data, dir / "second.log");
  const int port = server.port();
  ASSERT_NE(port, 0) << server.log();
  httplib::Client c = client_for(port, kKey);
  json list = get(c, "/v1/animations").body["animations"];
  ASSERT_EQ(list.size(), 2u) << list.dump();
  EXPECT_EQ(list[1]["id"], finished);
  EXPECT_EQ(list[1]["status"], "done");
  EXPECT_EQ(get(c, "/v1/animations/" + finished + "/result.mp4").raw, finished_video);

  json job = wait_for_job(c, interrupted, is_finished_status);
  EXPECT_EQ(job["status"], "done") << job.dump();
  EXPECT_EQ(fetch_video(c, "/v1/animations/" + interrupted + "/result.mp4", dir / "second.mp4").frames.size(0), 3);
  EXPECT_EQ(server.terminate(), 0) << server.log();
}

// Served models that record a native size: a job that gives no size gets it
// (non-square here: 128x64 is what the fixture UNet's three downsamplings allow),
// and /health reports it for the page.
TEST(ServeEngine, AJobWithoutSizeGetsTheModelsNativeSize) {
  TempDir dir;
  make_native_models(dir / "models", {128, 64});
  Upload upload;
  upload.source = read_bytes(public_case_dir() + "/source.png");
  upload.motion = read_bytes(make_motion(dir / "motion.mp4", 2));
  ServerProcess server(dir / "data", dir / "server.log", dir / "models", {});
  const int port = server.port();
  ASSERT_NE(port, 0) << server.log();
  httplib::Client c = client_for(port, kKey);
  json health = get(c, "/health").body;
  EXPECT_EQ(health["native_width"], 128) << health.dump();
  EXPECT_EQ(health["native_height"], 64) << health.dump();
  EXPECT_EQ(health["defaults"]["width"], 128) << health.dump();
  EXPECT_EQ(health["defaults"]["height"], 64) << health.dump();
  EXPECT_TRUE(health["defaults"]["size"].is_null()) << "a non-square default has no square size: " << health.dump();

  Reply r = submit(c, upload);
  ASSERT_EQ(r.status, 202) << r.raw;
  json job = wait_for_job(c, r.body["id"], is_finished_status);
  ASSERT_EQ(job["status"], "done") << job.dump();
  EXPECT_EQ(job["params"]["width"], 128);
  EXPECT_EQ(job["params"]["height"], 64);
  DecodedVideo result = fetch_video(c, job["result_url"], dir / "result.mp4");
  EXPECT_EQ(result.frames.sizes(), (at::IntArrayRef{2, 64, 128, 3}));
  EXPECT_EQ(server.terminate(), 0) << server.log();
}

// Runs the program with `args`; returns {exit status, output}.
std::pair<int, std::string> run_program(const std::string& args) {
  std::string cmd = std::string("'") + MA_BINARY + "' " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(ServeEngine, RefusesBadOptionsWithOneLine) {
  TempDir dir;
  const std::string base = "serve --models '" + models_dir() + "' --data '" + dir.path() + "' ";
  struct Case {
    std::string args, message;
  } cases[] = {
      {"--max-upload-mb 0", "--max-upload-mb must be at least 1"},
      {"--size 60", "size: must be a multiple of 8"},
      {"--context 8 --overlap 8", "overlap"},
      {"--max-resolution 100000", "--max-resolution must be between"},
      {"--dtype fp8", "unknown dtype 'fp8'"},
      {"--device gpu", "unknown device 'gpu'"},
      {"--threads -1", "--threads must be 0"},
      {"--motion-module /nonexistent/none.ckpt", "/nonexistent/none.ckpt"},
  };
  for (const Case& c : cases) {
    auto [status, out] = run_program(base + c.args);
    EXPECT_EQ(status, 1) << c.args << ": " << out;
    EXPECT_NE(out.find(c.message), std::string::npos) << c.args << ": " << out;
  }
  EXPECT_NE(run_program("serve --models /nonexistent/models").first, 0);
}

}  // namespace
}  // namespace ma::test
