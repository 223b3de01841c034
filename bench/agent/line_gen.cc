// Log line generator for the agent benchmark.
//
//   line_gen DIR FILES TOTAL_BYTES [MB_PER_S=0] [ROTATE_BYTES=0]
//
// Appends lines of 100 to 300 bytes to DIR/app0.log .. DIR/app<FILES-1>.log
// (round robin) until TOTAL_BYTES were written, as fast as possible or paced
// at MB_PER_S; every ROTATE_BYTES per file it renames appN.log to
// appN.log.<k> and starts a new appN.log (rename + create). Each line starts
// with the wall-clock time it was written, in nanoseconds, so a reader can
// measure the lag: "<ns> <level> <padding>\n". Prints the bytes and lines.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: line_gen DIR FILES TOTAL_BYTES [MB_PER_S] [ROTATE_BYTES]\n");
    return 2;
  }
  std::string dir = argv[1];
  int files = std::atoi(argv[2]);
  long long total = std::atoll(argv[3]);
  double rate = argc > 4 ? std::atof(argv[4]) * 1e6 : 0;
  long long rotate = argc > 5 ? std::atoll(argv[5]) : 0;
  std::vector<int> fds(static_cast<size_t>(files));
  std::vector<long long> written(static_cast<size_t>(files), 0);
  std::vector<int> generation(static_cast<size_t>(files), 0);
  auto path = [&](int f) { return dir + "/app" + std::to_string(f) + ".log"; };
  for (int f = 0; f < files; ++f) {
    fds[static_cast<size_t>(f)] = ::open(path(f).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fds[static_cast<size_t>(f)] < 0) return 1;
  }
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> len(100, 300);
  const std::string pad(400, 'x');
  std::string batch;
  long long done = 0, lines = 0;
  auto t0 = std::chrono::steady_clock::now();
  int f = 0;
  while (done < total) {
    // A batch of about 64 KiB (paced: about 1 ms worth) per write.
    batch.clear();
    size_t target = rate > 0 ? static_cast<size_t>(std::max(200.0, rate / 1000)) : 65536;
    long long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    while (batch.size() < target && done + static_cast<long long>(batch.size()) < total) {
      std::string head = std::to_string(ns) + (lines % 50 == 0 ? " WARNING " : " INFO ");
      int n = len(rng);
      batch += head;
      batch.append(pad, 0, static_cast<size_t>(std::max(1, n - static_cast<int>(head.size()) - 1)));
      batch += '\n';
      ++lines;
    }
    size_t fi = static_cast<size_t>(f);
    if (::write(fds[fi], batch.data(), batch.size()) != static_cast<ssize_t>(batch.size())) return 1;
    done += static_cast<long long>(batch.size());
    written[fi] += static_cast<long long>(batch.size());
    if (rotate > 0 && written[fi] >= rotate) {
      ::close(fds[fi]);
      std::string rotated = path(f) + "." + std::to_string(++generation[fi]);
      std::rename(path(f).c_str(), rotated.c_str());
      fds[fi] = ::open(path(f).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      written[fi] = 0;
    }
    f = (f + 1) % files;
    if (rate > 0) {
      std::this_thread::sleep_until(t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                             std::chrono::duration<double>(static_cast<double>(done) / rate)));
    }
  }
  for (int fd : fds) ::close(fd);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%lld bytes %lld lines %.2f s\n", done, lines, secs);
  return 0;
}
