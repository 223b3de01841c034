// Framing: records from the bytes read. Complete lines move to the unsealed
// records; with a multiline start pattern, lines that do not start a record
// stay with the one before; over-long lines are cut; an unterminated last line
// waits for its newline (or the partial timeout).
#include "agent_impl.h"

namespace comptoir::agent {

// Appends complete lines to `unsealed`, cutting lines longer than the limit.
void Agent::Impl::AppendLines(Source* s, std::string_view done) {
  size_t max = o.flows[s->flow].max_record_bytes;
  if (s->unsealed.empty()) {
    s->first_unsealed = Clock::now();
    // Sized once for a whole seal: growing by doubling would hold the old
    // and the new buffer at once (the agent's peak memory).
    s->unsealed.reserve(kSealBytes + kReadChunk);
  }
  size_t pos = 0;
  while (pos < done.size()) {
    size_t nl = done.find('\n', pos);
    size_t end = nl == std::string_view::npos ? done.size() : nl + 1;
    if (end - pos > max + 1) {
      s->unsealed.append(done.substr(pos, max));
      s->unsealed.push_back('\n');
      ++stats.truncated_records;
    } else {
      s->unsealed.append(done.substr(pos, end - pos));
    }
    ++stats.lines;
    pos = end;
  }
}

// Moves complete records from `pending` to `unsealed`. The source offset
// of `pending`'s first byte is always read_pos - pending.size().
void Agent::Impl::Frame(Source* s) {
  const FlowOptions& f = o.flows[s->flow];
  auto now = Clock::now();
  if (s->skipping) {  // the rest of an over-long line: consumed, not kept
    size_t nl = s->pending.find('\n');
    if (nl == std::string::npos) {
      s->pending.clear();
      return;
    }
    s->pending.erase(0, nl + 1);
    s->skipping = false;
    s->pending_since = now;
  }
  RE2* start = multiline[s->flow].get();
  size_t last_nl = s->pending.rfind('\n');
  size_t record_end = last_nl == std::string::npos ? 0 : last_nl + 1;
  if (start != nullptr && record_end > 0) {
    // The last record may still grow: it ends where the last line that
    // starts a record begins (unless it has been quiet for a while).
    size_t last_start = 0;
    size_t pos = 0;
    while (pos < record_end) {
      size_t nl = s->pending.find('\n', pos);
      std::string_view line(s->pending.data() + pos, nl - pos);
      if (pos > 0 && RE2::PartialMatch(line, *start)) last_start = pos;
      pos = nl + 1;
    }
    bool quiet = record_end == s->pending.size() &&
                 now - s->pending_since >= std::max(f.partial_timeout, std::chrono::milliseconds(1000));
    if (!quiet) record_end = last_start;
  }
  if (record_end > 0) {
    AppendLines(s, std::string_view(s->pending.data(), record_end));
    s->pending.erase(0, record_end);
    s->pending_since = now;
  }
  if (s->pending.empty()) {
    s->pending_since = now;
    return;
  }
  bool terminated = s->pending.back() == '\n';
  if (!terminated && s->pending.find('\n') == std::string::npos &&
      s->pending.size() > f.max_record_bytes) {
    // An unterminated line past the limit: keep its head, skip the rest.
    if (s->unsealed.empty()) s->first_unsealed = now;
    s->unsealed.append(s->pending, 0, f.max_record_bytes);
    s->unsealed.push_back('\n');
    ++stats.truncated_records;
    ++stats.lines;
    s->pending.clear();
    s->skipping = true;
  } else if (!terminated && start == nullptr && f.partial_timeout.count() > 0 &&
             now - s->pending_since >= f.partial_timeout) {
    ReleasePartial(s);  // waited long enough for its newline
    s->pending_since = now;
  }
}

// Moves an unterminated last line to the records, marked by the newline it
// did not have (counted as partial): after the partial timeout, or when its
// file generation ends (truncated, or rotated away and drained).
void Agent::Impl::ReleasePartial(Source* s) {
  if (s->pending.empty()) return;
  if (s->unsealed.empty()) s->first_unsealed = Clock::now();
  s->unsealed.append(s->pending);
  s->unsealed.push_back('\n');
  ++stats.partial_records;
  ++stats.lines;
  s->pending.clear();
}

}  // namespace comptoir::agent
