// The restricted unpickler behind load_torch_pickle (the zip side lives in
// torch_zip.cpp). It is a small stack machine over pickle opcodes whose only
// "calls" are a fixed set of constructors it implements itself.
#include "weights/torch_pickle.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "util/error.h"

namespace ma {
namespace {

// Bounds that keep a hostile pickle from making us allocate absurdly or
// recurse without end. Real state dicts are far below every one of them.
constexpr int64_t kMaxElements = int64_t{1} << 40;  // per storage / tensor (4 TiB of float32)
constexpr size_t kMaxDims = 64;
constexpr int kMaxNesting = 32;  // dicts inside dicts when collecting tensors
constexpr size_t kMaxKeyBytes = 4096;  // real state-dict keys are a few hundred bytes at most
constexpr uint64_t kSlackBytes = uint64_t{1} << 20;  // allowance on top of the stored bytes
// Tied weights list one tensor under two names; more than 4x the stored data
// means a pickle is aliasing one storage under countless names.
constexpr uint64_t kMaxAliasing = 4;

enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor, Opaque,
                  NumpyArray, NumpyDtype };

struct Value;
using Ref = Value*;  // owned by the Unpickler's arena, so reference cycles cannot leak

struct Value {
  Kind kind = Kind::None;
  int64_t i = 0;             // Int, Bool
  std::string s;             // Str, Bytes, Global ("module.name")
  std::vector<Ref> items;    // Tuple, List
  std::vector<std::pair<std::string, Ref>> entries;  // Dict: str/int keys only, insertion order
  std::unordered_map<std::string, size_t> index;     // Dict: key -> position in entries
  at::Tensor tensor;         // Storage (1-D, typed), Tensor (also a numpy array once BUILD gave its state)
};

struct StorageType {
  const char* name;
  at::ScalarType dtype;
  size_t item_size;
};

const StorageType kStorageTypes[] = {
    {"torch.FloatStorage", at::kFloat, 4},   {"torch.HalfStorage", at::kHalf, 2},
    {"torch.BFloat16Storage", at::kBFloat16, 2}, {"torch.DoubleStorage", at::kDouble, 8},
    {"torch.LongStorage", at::kLong, 8},     {"torch.IntStorage", at::kInt, 4},
    {"torch.ShortStorage", at::kShort, 2},   {"torch.CharStorage", at::kChar, 1},
    {"torch.ByteStorage", at::kByte, 1},     {"torch.BoolStorage", at::kBool, 1},
};

const StorageType* find_storage_type(const std::string& global) {
  for (const auto& t : kStorageTypes)
    if (global == t.name) return &t;
  return nullptr;
}

// Plain pickles of numpy arrays (detectron2's model-zoo .pkl). numpy 2 renamed
// numpy.core to numpy._core; both spellings name the same constructors.
const char* const kNumpyGlobals[] = {
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.numeric._frombuffer",     "numpy._core.numeric._frombuffer",
    "numpy.core.multiarray.scalar",       "numpy._core.multiarray.scalar",
    "numpy.ndarray",                      "numpy.dtype",
    "_codecs.encode",
    "__builtin__.bytes",                  "builtins.bytes",  // b"" under protocol 2
};

bool is_numpy_global(const std::string& name) {
  for (const char* g : kNumpyGlobals)
    if (name == g) return true;
  return false;
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

const char* const kCallableGlobals[] = {
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch.device",
};

bool is_allowed_global(const std::string& name) {
  for (const char* g : kCallableGlobals)
    if (name == g) return true;
  return find_storage_type(name) != nullptr || is_numpy_global(name);
}

// Python refuses strings that are not UTF-8; so do we (names end up in JSON).
// Strict RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    else return false;
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k)
      if ((p[i + k] & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

class Unpickler {
 public:
  Unpickler(const char* data, size_t size, const StorageRecordReader& read_record)
      : data_(data), size_(size), read_record_(read_record) {}

  Ref run() {
    while (true) {
      const size_t at = pos_;
      const unsigned char op = u8();
      switch (op) {
        case 0x80: {  // PROTO
          unsigned proto = u8();
          if (proto > 5) fail("unsupported pickle protocol " + std::to_string(proto));
          break;
        }
        case 0x95: skip(8); break;  // FRAME: framing is only a read-ahead hint
        case '.': {                 // STOP
          Ref result = pop();
          return result;
        }
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '}': push(make(Kind::Dict)); break;           // EMPTY_DICT
        case ']': push(make(Kind::List)); break;           // EMPTY_LIST
        case ')': push(make(Kind::Tuple)); break;          // EMPTY_TUPLE
        case 't': push(tuple_of(pop_mark())); break;       // TUPLE
        case 0x85: push(tuple_of(pop_n(1))); break;        // TUPLE1
        case 0x86: push(tuple_of(pop_n(2))); break;        // TUPLE2
        case 0x87: push(tuple_of(pop_n(3))); break;        // TUPLE3
        case 'X': push(string_value(Kind::Str, le(4))); break;     // BINUNICODE
        case 0x8c: push(string_value(Kind::Str, u8())); break;     // SHORT_BINUNICODE
        case 0x8d: push(string_value(Kind::Str, le(8))); break;    // BINUNICODE8
        case 'B': push(string_value(Kind::Bytes, le(4))); break;   // BINBYTES
        case 'C': push(string_value(Kind::Bytes, u8())); break;    // SHORT_BINBYTES
        case 0x8e: push(string_value(Kind::Bytes, le(8))); break;  // BINBYTES8
        case 0x96: push(string_value(Kind::Bytes, le(8))); break;  // BYTEARRAY8 (numpy, protocol 5)
        case 'T': push(latin1_string(le(4))); break;               // BINSTRING (Python 2 str; legacy torch.save files too)
        case 'U': push(latin1_string(u8())); break;                // SHORT_BINSTRING (likewise)
        case 'q': memo_[u8()] = top(); break;                      // BINPUT
        case 'r': memo_[le(4)] = top(); break;                     // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;             // MEMOIZE
        case 'h': push(memo_get(u8())); break;                     // BINGET
        case 'j': push(memo_get(le(4))); break;                    // LONG_BINGET
        case 'c': {                                                // GLOBAL
          std::string module = line(), name = line();
          push(global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          Ref name = pop(), module = pop();
          if (module->kind != Kind::Str || name->kind != Kind::Str) fail("STACK_GLOBAL needs two strings");
          push(global(module->s, name->s));
          break;
        }
        case 'Q': push(persistent_load(pop())); break;  // BINPERSID
        case 'R': {                                     // REDUCE
          Ref args = pop(), callable = pop();
          push(call(callable, args));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args); only OrderedDict qualifies
          Ref args = pop(), cls = pop();
          push(call(cls, args));
          break;
        }
        case 'b': {  // BUILD: numpy arrays/dtypes get their state; any other (OrderedDict._metadata) is irrelevant
          Ref state = pop();
          build(top(), state);
          break;
        }
        case 's': {                     // SETITEM
          Ref value = pop(), key = pop();
          set_item(top(), key, value);
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<Ref> kv = pop_mark();
          if (kv.size() % 2) fail("SETITEMS with an odd number of items");
          Ref dict = top();
          for (size_t k = 0; k < kv.size(); k += 2) set_item(dict, kv[k], kv[k + 1]);
          break;
        }
        case 'a': {  // APPEND
          Ref value = pop();
          list_target()->items.push_back(value);
          break;
        }
        case 'e': {  // APPENDS
          std::vector<Ref> values = pop_mark();
          Ref list = list_target();
          list->items.insert(list->items.end(), values.begin(), values.end());
          break;
        }
        case 'J': push(int_value(static_cast<int32_t>(le(4)))); break;  // BININT
        case 'K': push(int_value(u8())); break;                         // BININT1
        case 'M': push(int_value(static_cast<int64_t>(le(2)))); break;  // BININT2
        case 0x8a: push(int_value(long1())); break;                     // LONG1
        case 'G': skip(8); push(make(Kind::Float)); break;  // BINFLOAT: the value is never needed
        case 'N': push(make(Kind::None)); break;
        case 0x88: push(bool_value(true)); break;   // NEWTRUE
        case 0x89: push(bool_value(false)); break;  // NEWFALSE
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(std::string("unsupported pickle opcode ") + hex + " at offset " + std::to_string(at));
        }
      }
    }
  }

  // Bytes of all distinct storages read so far.
  uint64_t storage_bytes() const { return storage_bytes_; }
  // Offset just past the STOP of the pickle run() interpreted.
  size_t end() const { return pos_; }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(what); }

  // ---- reading the byte stream -------------------------------------------
  void need(uint64_t n) const {
    if (n > size_ - pos_) fail("truncated pickle (needs " + std::to_string(n) + " more bytes at offset " +
                               std::to_string(pos_) + " of " + std::to_string(size_) + ")");
  }
  void skip(uint64_t n) {
    need(n);
    pos_ += n;
  }
  unsigned u8() {
    need(1);
    return static_cast<unsigned char>(data_[pos_++]);
  }
  uint64_t le(int bytes) {
    need(bytes);
    uint64_t v = 0;
    for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(data_[pos_ + k]);
    pos_ += bytes;
    return v;
  }
  int64_t long1() {
    unsigned n = u8();
    if (n > 8) fail("pickle integer of " + std::to_string(n) + " bytes is too large");
    if (n == 0) return 0;
    uint64_t v = le(static_cast<int>(n));
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const char* start = data_ + pos_;
    const void* nl = std::memchr(start, '\n', size_ - pos_);
    if (!nl) fail("truncated pickle (GLOBAL without newline)");
    std::string s(start, static_cast<const char*>(nl));
    pos_ += s.size() + 1;
    return s;
  }

  // ---- values and the stack -----------------------------------------------
  Ref make(Kind k) {
    arena_.emplace_back();
    arena_.back().kind = k;
    return &arena_.back();
  }
  Ref int_value(int64_t v) {
    Ref r = make(Kind::Int);
    r->i = v;
    return r;
  }
  Ref bool_value(bool v) {
    Ref r = make(Kind::Bool);
    r->i = v;
    return r;
  }
  Ref string_value(Kind k, uint64_t n) {
    need(n);  // before allocating: the length must fit in what is left
    Ref r = make(k);
    r->s.assign(data_ + pos_, static_cast<size_t>(n));
    pos_ += n;
    if (k == Kind::Str && !is_valid_utf8(r->s)) fail("pickle string is not valid UTF-8");
    return r;
  }
  // Python 2 str, read as detectron2 does (pickle.load(encoding="latin1")):
  // each byte is one code point, kept here as UTF-8 like every other Str.
  Ref latin1_string(uint64_t n) {
    need(n);
    Ref r = make(Kind::Str);
    r->s.reserve(static_cast<size_t>(n));
    for (uint64_t k = 0; k < n; ++k) {
      const auto c = static_cast<unsigned char>(data_[pos_ + k]);
      if (c < 0x80) {
        r->s.push_back(static_cast<char>(c));
      } else {
        r->s.push_back(static_cast<char>(0xC0 | (c >> 6)));
        r->s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
      }
    }
    pos_ += n;
    return r;
  }
  Ref tuple_of(std::vector<Ref> items) {
    Ref r = make(Kind::Tuple);
    r->items = std::move(items);
    return r;
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(Ref v) { stack_.push_back(v); }
  Ref top() const {
    if (stack_.size() <= floor()) fail("pickle stack underflow");
    return stack_.back();
  }
  Ref pop() {
    Ref v = top();
    stack_.pop_back();
    return v;
  }
  std::vector<Ref> pop_n(size_t n) {
    if (stack_.size() - floor() < n) fail("pickle stack underflow");
    std::vector<Ref> out(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    return out;
  }
  std::vector<Ref> pop_mark() {
    if (marks_.empty()) fail("pickle MARK missing");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Ref> out(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  Ref memo_get(uint64_t key) const {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("pickle memo has no entry " + std::to_string(key));
    return it->second;
  }
  Ref list_target() const {
    Ref list = top();
    if (list->kind != Kind::List) fail("APPEND to something that is not a list");
    return list;
  }
  void set_item(Ref dict, Ref key, Ref value) {
    if (dict->kind != Kind::Dict) fail("SETITEM on something that is not a dict");
    std::string k;
    if (key->kind == Kind::Str) {
      // Every SETITEM hashes its key; a huge key reused via the memo would make that quadratic.
      if (key->s.size() > kMaxKeyBytes) fail("pickle dict key of " + std::to_string(key->s.size()) + " bytes");
      k = key->s;
    } else if (key->kind == Kind::Int) {
      k = std::to_string(key->i);
    } else {
      return;  // tuple/None keys never name a tensor
    }
    auto [it, inserted] = dict->index.emplace(k, dict->entries.size());
    if (inserted) dict->entries.emplace_back(k, value);
    else dict->entries[it->second].second = value;  // Python dicts replace on a repeated key
  }

  // ---- the only things the pickle may "name" or "call" ---------------------
  Ref global(const std::string& module, const std::string& name) {
    std::string full = module + "." + name;
    if (!is_allowed_global(full)) fail("pickle references forbidden global '" + full + "'");
    Ref r = make(Kind::Global);
    r->s = std::move(full);
    return r;
  }

  Ref call(Ref callable, Ref args) {
    if (callable->kind != Kind::Global) fail("pickle calls something that is not a known global");
    if (args->kind != Kind::Tuple) fail("pickle call arguments are not a tuple");
    const std::string& f = callable->s;
    const auto& a = args->items;
    if (f == "collections.OrderedDict") {
      Ref dict = make(Kind::Dict);
      if (a.empty()) return dict;
      // OrderedDict([[key, value], ...]): how Python 2 era torch.save wrote state dicts.
      if (a.size() != 1 || a[0]->kind != Kind::List) fail("OrderedDict with unsupported constructor arguments");
      for (Ref pair : a[0]->items) {
        if ((pair->kind != Kind::List && pair->kind != Kind::Tuple) || pair->items.size() != 2)
          fail("OrderedDict items are not key/value pairs");
        set_item(dict, pair->items[0], pair->items[1]);
      }
      return dict;
    }
    if (f == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(a);
    if (f == "torch._utils._rebuild_parameter") {
      if (a.empty() || a[0]->kind != Kind::Tensor) fail("_rebuild_parameter without a tensor");
      return a[0];
    }
    if (f == "torch.device") return make(Kind::Opaque);
    if (is_numpy_global(f)) return call_numpy(f, a);
    fail("pickle calls '" + f + "', which is not a function");
  }

  // ---- numpy arrays (protocols 2-5, numpy 1 and 2) --------------------------
  // _reconstruct(ndarray, (0,), b'b') makes an empty array that BUILD then
  // fills with (version, shape, dtype, is_fortran, raw); protocol 5 instead
  // calls _frombuffer(raw, dtype, shape, order). Nothing is ever executed: the
  // raw bytes are copied into a tensor of the declared dtype and shape.
  Ref call_numpy(const std::string& f, const std::vector<Ref>& a) {
    if (ends_with(f, "._reconstruct")) {
      if (a.size() != 3 || a[0]->kind != Kind::Global || a[0]->s != "numpy.ndarray")
        fail("numpy _reconstruct of something other than numpy.ndarray");
      return make(Kind::NumpyArray);
    }
    if (f == "numpy.dtype") {
      if (a.empty() || a[0]->kind != Kind::Str) fail("numpy.dtype without a type code");
      numpy_type(a[0]->s);  // refuses unknown codes by name
      Ref r = make(Kind::NumpyDtype);
      r->s = a[0]->s;
      r->i = '=';
      return r;
    }
    if (ends_with(f, "._frombuffer")) {
      if (a.size() != 4 || a[0]->kind != Kind::Bytes || a[3]->kind != Kind::Str ||
          (a[3]->s != "C" && a[3]->s != "F"))
        fail("malformed numpy _frombuffer call");
      return numpy_array(a[0]->s, a[1], a[2], a[3]->s == "F");
    }
    if (f == "_codecs.encode") {  // how protocol 2 under Python 3 spells bytes
      if (a.size() != 2 || a[0]->kind != Kind::Str || a[1]->kind != Kind::Str ||
          (a[1]->s != "latin1" && a[1]->s != "latin-1"))
        fail("_codecs.encode is only supported as encode(str, 'latin1')");
      Ref r = make(Kind::Bytes);
      r->s = utf8_to_latin1(a[0]->s);
      return r;
    }
    if (ends_with(f, ".bytes")) {  // protocol 2 spells an empty bytes object bytes()
      if (!a.empty()) fail("bytes() with arguments is not supported");
      return make(Kind::Bytes);
    }
    if (ends_with(f, ".scalar")) return make(Kind::Opaque);  // a numpy scalar beside the weights: never a tensor
    fail("pickle calls '" + f + "', which is not a function");
  }

  struct NumpyType {
    at::ScalarType dtype;
    size_t item_size;
  };
  NumpyType numpy_type(const std::string& code) const {
    static const std::pair<const char*, NumpyType> kTypes[] = {
        {"f4", {at::kFloat, 4}}, {"f8", {at::kDouble, 8}}, {"f2", {at::kHalf, 2}}, {"i8", {at::kLong, 8}},
        {"i4", {at::kInt, 4}},   {"i2", {at::kShort, 2}},  {"i1", {at::kChar, 1}}, {"u1", {at::kByte, 1}},
        {"b1", {at::kBool, 1}},
    };
    for (const auto& [name, type] : kTypes)
      if (code == name) return type;
    fail("numpy dtype '" + code + "' is not supported");
  }

  std::string utf8_to_latin1(const std::string& s) const {
    std::string out;
    out.reserve(s.size());
    for (size_t k = 0; k < s.size(); ++k) {
      const auto c = static_cast<unsigned char>(s[k]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
      } else if ((c == 0xC2 || c == 0xC3) && k + 1 < s.size()) {
        out.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(s[++k]) & 0x3F)));
      } else {
        fail("latin-1 encoded data holds a character above U+00FF");
      }
    }
    return out;
  }

  void build(Ref obj, Ref state) {
    if (obj->kind == Kind::NumpyDtype) {
      // (3, byte_order, subarray, names, fields, elsize, alignment, flags)
      if (state->kind != Kind::Tuple || state->items.size() < 2 || state->items[1]->kind != Kind::Str ||
          state->items[1]->s.size() != 1)
        fail("malformed numpy dtype state");
      obj->i = state->items[1]->s[0];
      if (obj->i != '<' && obj->i != '|' && obj->i != '=')
        fail("numpy dtype with byte order '" + state->items[1]->s + "' is not supported (little-endian only)");
      return;
    }
    if (obj->kind != Kind::NumpyArray) return;
    const auto& st = state->items;
    if (state->kind != Kind::Tuple || st.size() != 5 || st[0]->kind != Kind::Int || st[0]->i != 1 ||
        (st[3]->kind != Kind::Bool && st[3]->kind != Kind::Int))
      fail("malformed numpy array state");
    if (st[4]->kind == Kind::List) fail("numpy object arrays are not supported");
    std::string latin1;
    const std::string* raw = &st[4]->s;
    if (st[4]->kind == Kind::Str) raw = &(latin1 = utf8_to_latin1(st[4]->s));
    else if (st[4]->kind != Kind::Bytes) fail("numpy array data is not bytes");
    Ref built = numpy_array(*raw, st[2], st[1], st[3]->i != 0);
    obj->kind = Kind::Tensor;  // in place: the memo may already refer to this array
    obj->tensor = built->tensor;
  }

  Ref numpy_array(const std::string& raw, Ref dtype, Ref shape_tuple, bool fortran) {
    if (dtype->kind != Kind::NumpyDtype) fail("numpy array without a dtype");
    if (shape_tuple->kind != Kind::Tuple || shape_tuple->items.size() > kMaxDims) fail("malformed numpy shape");
    const NumpyType type = numpy_type(dtype->s);
    std::vector<int64_t> shape;
    unsigned __int128 numel = 1;
    for (Ref d : shape_tuple->items) {
      shape.push_back(int_arg(d, "numpy shape"));
      numel *= static_cast<uint64_t>(shape.back());
      if (numel > static_cast<uint64_t>(kMaxElements)) fail("numpy array has an absurd shape");
    }
    const uint64_t bytes = static_cast<uint64_t>(numel) * type.item_size;
    if (bytes != raw.size())
      fail("numpy array of shape " + shape_text(shape) + " and dtype " + dtype->s + " needs " +
           std::to_string(bytes) + " bytes but holds " + std::to_string(raw.size()));
    storage_bytes_ += bytes;
    // Fortran order is C order of the reversed shape, transposed back.
    std::vector<int64_t> layout(shape);
    if (fortran) std::reverse(layout.begin(), layout.end());
    at::Tensor t = at::empty(layout, at::TensorOptions().dtype(type.dtype == at::kBool ? at::kByte : type.dtype));
    if (bytes) std::memcpy(t.data_ptr(), raw.data(), bytes);
    if (type.dtype == at::kBool) t = t.ne(0);
    if (fortran && t.dim() > 1) {
      std::vector<int64_t> perm(static_cast<size_t>(t.dim()));
      for (size_t k = 0; k < perm.size(); ++k) perm[k] = static_cast<int64_t>(perm.size() - 1 - k);
      t = t.permute(perm).contiguous();
    }
    Ref r = make(Kind::Tensor);
    r->tensor = t;
    return r;
  }

  static std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
    return s + "]";
  }

  int64_t int_arg(Ref v, const char* what) const {
    if (v->kind != Kind::Int || v->i < 0 || v->i > kMaxElements) fail(std::string("bad tensor ") + what);
    return v->i;
  }

  // ('storage', StorageClass, key, location, numel) -> a typed 1-D storage.
  // Legacy files add a sixth item, view metadata, which is None unless the
  // storage is a view into another (pre-0.4 torch; not supported).
  Ref persistent_load(Ref pid) {
    if (pid->kind != Kind::Tuple || pid->items.size() < 5 || pid->items.size() > 6 ||
        pid->items[0]->kind != Kind::Str || pid->items[0]->s != "storage")
      fail("unsupported persistent id (expected a ('storage', ...) tuple)");
    if (pid->items.size() == 6 && pid->items[5]->kind != Kind::None)
      fail("storage views (legacy view metadata) are not supported");
    Ref cls = pid->items[1], key = pid->items[2];
    const StorageType* type = cls->kind == Kind::Global ? find_storage_type(cls->s) : nullptr;
    if (!type) fail("persistent id does not name a torch storage class");
    if (key->kind != Kind::Str) fail("storage key is not a string");
    const int64_t numel = int_arg(pid->items[4], "storage size");
    auto cached = storages_.find(key->s);
    if (cached != storages_.end()) {
      const at::Tensor& s = cached->second->tensor;
      if (s.scalar_type() != type->dtype || s.numel() != numel)
        fail("storage '" + key->s + "' is described twice with different types or sizes");
      return cached->second;
    }
    const uint64_t bytes = static_cast<uint64_t>(numel) * type->item_size;
    at::Tensor raw = read_record_(key->s, bytes);
    if (!raw.defined() || raw.scalar_type() != at::kByte || raw.dim() != 1 || !raw.is_contiguous() ||
        static_cast<uint64_t>(raw.numel()) < bytes)
      fail("storage record '" + key->s + "' is smaller than its " + std::to_string(bytes) + " bytes");
    storage_bytes_ += bytes;
    Ref r = make(Kind::Storage);
    if (type->dtype == at::kBool) {
      r->tensor = raw.narrow(0, 0, numel).ne(0);  // any byte other than 0/1 is not a valid bool
    } else {
      r->tensor = at::from_blob(raw.data_ptr(), {numel}, [raw](void*) {},
                                at::TensorOptions().dtype(type->dtype));
    }
    storages_.emplace(key->s, r);
    return r;
  }

  // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
  Ref rebuild_tensor(const std::vector<Ref>& a) {
    if (a.size() < 4 || a.size() > 7 || a[0]->kind != Kind::Storage) fail("malformed _rebuild_tensor_v2 call");
    const at::Tensor& storage = a[0]->tensor;
    const int64_t offset = int_arg(a[1], "storage offset");
    if (a[2]->kind != Kind::Tuple || a[3]->kind != Kind::Tuple || a[2]->items.size() != a[3]->items.size() ||
        a[2]->items.size() > kMaxDims)
      fail("tensor size and stride do not match");
    std::vector<int64_t> size, stride;
    unsigned __int128 numel = 1, last = static_cast<unsigned __int128>(offset);
    for (size_t d = 0; d < a[2]->items.size(); ++d) {
      size.push_back(int_arg(a[2]->items[d], "size"));
      stride.push_back(int_arg(a[3]->items[d], "stride"));
      numel *= static_cast<uint64_t>(size.back());
      if (numel > static_cast<uint64_t>(kMaxElements)) fail("tensor has an absurd shape");
    }
    if (numel > 0) {
      for (size_t d = 0; d < size.size(); ++d) {
        last += static_cast<unsigned __int128>(size[d] - 1) * static_cast<uint64_t>(stride[d]);
        if (last >= static_cast<uint64_t>(storage.numel())) break;
      }
      if (last >= static_cast<uint64_t>(storage.numel()))
        fail("tensor reaches past the end of its storage of " + std::to_string(storage.numel()) + " elements");
    } else if (offset > storage.numel()) {
      fail("tensor offset lies past the end of its storage");
    }
    Ref r = make(Kind::Tensor);
    r->tensor = storage.as_strided(size, stride, offset);
    if (!r->tensor.is_contiguous()) {
      // Overlapping (e.g. zero) strides could make a small storage expand into
      // terabytes, and many views could each copy one storage: cap all copies
      // at the size of the data actually stored.
      copied_bytes_ += static_cast<uint64_t>(numel) * storage.element_size();
      if (copied_bytes_ > storage_bytes_ + kSlackBytes)
        fail("tensor views overlap implausibly (they would copy more data than the file stores)");
      r->tensor = r->tensor.contiguous();
    }
    return r;
  }

  const char* data_;
  size_t size_;
  size_t pos_ = 0;
  const StorageRecordReader& read_record_;
  std::deque<Value> arena_;  // deque: growing it never moves existing values
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;
  std::unordered_map<std::string, Ref> storages_;
  uint64_t storage_bytes_ = 0;  // of all distinct storages read
  uint64_t copied_bytes_ = 0;   // by making strided views contiguous
};

// Walks nested dicts, giving each tensor its dot-joined path. Each dict is
// visited once, so shared or cyclic references cannot blow up the walk.
class TensorCollector {
 public:
  TensorCollector(size_t input_size, uint64_t storage_bytes)
      : name_budget_(16 * input_size + (size_t{1} << 20)),
        tensor_budget_(kMaxAliasing * storage_bytes + kSlackBytes) {}

  void collect(Ref dict, const std::string& prefix, int depth) {
    if (depth > kMaxNesting) throw Error("pickle dicts are nested too deeply");
    if (!visited_.insert(dict).second) return;
    for (const auto& [key, value] : dict->entries) {
      std::string name = prefix.empty() ? key : prefix + "." + key;
      if (name.size() > name_budget_) throw Error("pickle keys are implausibly long");
      name_budget_ -= name.size();
      if (value->kind == Kind::Tensor) {
        const uint64_t bytes = value->tensor.nbytes();
        if (bytes > tensor_budget_) throw Error("pickle names the same stored data implausibly often");
        tensor_budget_ -= bytes;
        out_[name] = value->tensor;
      }
      else if (value->kind == Kind::Dict) collect(value, name, depth + 1);
    }
  }
  TensorMap take() { return std::move(out_); }

 private:
  size_t name_budget_;      // total bytes of names: bounded by the input, whatever its shape
  uint64_t tensor_budget_;  // total bytes of named tensors: bounded by the stored data
  std::unordered_set<const Value*> visited_;
  TensorMap out_;
};

}  // namespace

TensorMap parse_pickle_state_dict(const char* data, size_t size, const StorageRecordReader& read_record) {
  return parse_pickle_state_dict(data, size, read_record, nullptr);
}

TensorMap parse_pickle_state_dict(const char* data, size_t size, const StorageRecordReader& read_record,
                                  size_t* end) {
  Unpickler unpickler(data, size, read_record);
  Ref root = unpickler.run();
  if (root->kind != Kind::Dict) throw Error("pickle does not hold a dict of tensors");
  TensorCollector collector(size, unpickler.storage_bytes());
  collector.collect(root, "", 0);
  if (end) *end = unpickler.end();
  return collector.take();
}

std::vector<std::string> parse_pickle_string_list(const char* data, size_t size, size_t* end) {
  StorageRecordReader no_storages = [](const std::string&, uint64_t) -> at::Tensor {
    throw Error("a list of names refers to tensor storage");
  };
  Unpickler unpickler(data, size, no_storages);
  Ref root = unpickler.run();
  if (root->kind != Kind::List) throw Error("pickle does not hold a list");
  std::vector<std::string> out;
  for (Ref item : root->items) {
    if (item->kind != Kind::Str) throw Error("pickle list holds something other than strings");
    out.push_back(item->s);
  }
  if (end) *end = unpickler.end();
  return out;
}

}  // namespace ma
