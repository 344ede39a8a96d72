// The pieces of BERT's tokenizer below the public `BertTokenizer`: the normaliser (Hugging Face
// `tokenizers`' `BertNormalizer`), the pre-tokeniser (`BertPreTokenizer`: whitespace and
// punctuation) and the greedy longest-match-first WordPiece model over a trie of the vocabulary.
// Everything works on Unicode scalars (what Rust's `char` and Python's `str` count), in buffers the
// caller reuses; only a non-ASCII text whose accents are stripped builds one String (for NFD).

import Foundation

/// The character classes of BERT's text processing, as `tokenizers` defines them.
enum BertCharacterClass {
    /// Whitespace: `\t`, `\n`, `\r` and the Unicode `White_Space` property (Rust's `is_whitespace`).
    @inline(__always)
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return v == 32 || (v >= 9 && v <= 13) }
        return s.properties.isWhitespace
    }

    /// A control character to drop: general category Cc, Cf, Cs or Co, except `\t\n\r` (as
    /// `tokenizers`; unassigned scalars, Cn, stay, where the slow Python tokenizer drops them).
    @inline(__always)
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return (v < 32 && v != 9 && v != 10 && v != 13) || v == 127 }
        switch s.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse: return true
        default: return false
        }
    }

    /// Punctuation: ASCII 33–47, 58–64, 91–96, 123–126 and the Unicode categories P*.
    @inline(__always)
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return (v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96) || (v >= 123 && v <= 126) }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// A CJK ideograph, split one per token: the blocks of `tokenizers`' `is_chinese_char` (the
    /// slow Python `_is_chinese_char` also counts U+2B820–U+2B91F, which the fast one does not).
    @inline(__always)
    static func isChinese(_ v: UInt32) -> Bool {
        if v < 0x3400 { return false }
        return (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v)
            || (0x20000...0x2A6DF).contains(v) || (0x2A700...0x2B73F).contains(v)
            || (0x2B740...0x2B81F).contains(v) || (0x2B920...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}

/// `BertNormalizer`: clean the text, space out CJK ideographs, strip accents (NFD, then drop the
/// non-spacing marks Mn), lower-case (full Unicode mapping, scalar by scalar) — in that order.
struct BertNormalization: Sendable {
    var cleansText: Bool
    var splitsChineseCharacters: Bool
    var stripsAccents: Bool
    var lowercases: Bool

    /// Appends the normalised form of `text` to `out`.
    func normalize(_ text: ArraySlice<Unicode.Scalar>, into out: inout [Unicode.Scalar]) {
        let start = out.count
        var nonASCII = false
        for s in text {
            if cleansText {
                if s.value == 0 || s.value == 0xFFFD || BertCharacterClass.isControl(s) { continue }
                if BertCharacterClass.isWhitespace(s) { out.append(" "); continue }
            }
            if s.value >= 0x80 {
                nonASCII = true
                if splitsChineseCharacters && BertCharacterClass.isChinese(s.value) {
                    out.append(" "); out.append(s); out.append(" ")
                    continue
                }
            }
            out.append(s)
        }
        if stripsAccents && nonASCII {
            let decomposed = String(String.UnicodeScalarView(out[start...])).decomposedStringWithCanonicalMapping
            out.removeSubrange(start...)
            for s in decomposed.unicodeScalars where s.properties.generalCategory != .nonspacingMark {
                out.append(s)
            }
        }
        if lowercases { lowercase(&out, from: start, nonASCII: nonASCII) }
    }

    /// Lower-cases `out[start...]` in place; only a non-ASCII scalar whose mapping is longer
    /// than one scalar (`İ` → `i̇`) makes it rebuild the tail.
    private func lowercase(_ out: inout [Unicode.Scalar], from start: Int, nonASCII: Bool) {
        var i = start
        while i < out.count {
            let s = out[i]
            if s.value < 0x80 {
                if s.value >= 65 && s.value <= 90 { out[i] = Unicode.Scalar(s.value + 32)! }
            } else if nonASCII && s.properties.changesWhenLowercased {
                let mapped = Array(s.properties.lowercaseMapping.unicodeScalars)
                out.replaceSubrange(i...i, with: mapped)
                i += mapped.count
                continue
            }
            i += 1
        }
    }
}

/// The vocabulary as a trie over Unicode scalars: walking it from a word's position finds the
/// longest vocabulary entry starting there in one pass (WordPiece's greedy longest match).
struct VocabularyTrie: Sendable {
    /// Child of node `n` by scalar `s`, keyed `n << 32 | s`.
    private var children: [UInt64: Int32] = [:]
    /// The token id ending at each node, or -1; node 0 is the root.
    private var tokenIds: [Int32] = [-1]

    /// The trie of `tokens` (token `i` has id `i`; tokens are distinct and non-empty).
    init(tokens: [String]) {
        for (id, token) in tokens.enumerated() {
            var node: Int32 = 0
            for s in token.unicodeScalars {
                let key = UInt64(node) << 32 | UInt64(s.value)
                if let next = children[key] {
                    node = next
                } else {
                    let next = Int32(tokenIds.count)
                    tokenIds.append(-1)
                    children[key] = next
                    node = next
                }
            }
            if tokenIds[Int(node)] < 0 { tokenIds[Int(node)] = Int32(id) }
        }
    }

    /// The root node.
    var root: Int32 { 0 }

    /// The node reached by `prefix` from the root, or nil when no token starts with it.
    func node(after prefix: String) -> Int32? {
        var node: Int32 = 0
        for s in prefix.unicodeScalars {
            guard let next = children[UInt64(node) << 32 | UInt64(s.value)] else { return nil }
            node = next
        }
        return node
    }

    /// The longest token spelled by `scalars[from..<to]`'s prefixes, walking from `node`:
    /// its id and the end of the match, or nil when no prefix is a token.
    func longestMatch(_ scalars: [Unicode.Scalar], from: Int, to: Int, startingAt node: Int32) -> (id: Int, end: Int)? {
        var node = node
        var best: (id: Int, end: Int)?
        var i = from
        while i < to, let next = children[UInt64(node) << 32 | UInt64(scalars[i].value)] {
            node = next
            i += 1
            let id = tokenIds[Int(node)]
            if id >= 0 { best = (Int(id), i) }
        }
        return best
    }
}

/// The WordPiece model: a word becomes its greedy longest-match-first pieces, continuation pieces
/// spelled `##piece`; a word with no such split, or longer than `maxInputCharsPerWord` scalars,
/// becomes one unknown token.
struct WordPieceModel: Sendable {
    let trie: VocabularyTrie
    /// The node after `##`, where continuation pieces start (nil: the vocabulary has none).
    let continuationRoot: Int32?
    let unknownId: Int
    let maxInputCharsPerWord: Int

    init(vocabulary: [String], unknownId: Int, maxInputCharsPerWord: Int) {
        trie = VocabularyTrie(tokens: vocabulary)
        continuationRoot = trie.node(after: "##")
        self.unknownId = unknownId
        self.maxInputCharsPerWord = maxInputCharsPerWord
    }

    /// Appends the ids of the word `scalars[word]` to `ids`.
    func appendIds(ofWord scalars: [Unicode.Scalar], _ word: Range<Int>, to ids: inout [Int]) {
        if word.count > maxInputCharsPerWord { ids.append(unknownId); return }
        let mark = ids.count
        var position = word.lowerBound
        while position < word.upperBound {
            let node = position == word.lowerBound ? trie.root : continuationRoot
            guard let node, let match = trie.longestMatch(scalars, from: position, to: word.upperBound, startingAt: node) else {
                ids.removeSubrange(mark...)
                ids.append(unknownId)
                return
            }
            ids.append(match.id)
            position = match.end
        }
    }

    /// `BertPreTokenizer` then WordPiece: splits `scalars[from...]` at whitespace (dropped) and
    /// punctuation (one token each) and appends the pieces of every word to `ids`.
    func appendIds(ofNormalized scalars: [Unicode.Scalar], from: Int, to ids: inout [Int]) {
        var wordStart = -1
        for i in from..<scalars.count {
            let s = scalars[i]
            if BertCharacterClass.isWhitespace(s) {
                if wordStart >= 0 { appendIds(ofWord: scalars, wordStart..<i, to: &ids); wordStart = -1 }
            } else if BertCharacterClass.isPunctuation(s) {
                if wordStart >= 0 { appendIds(ofWord: scalars, wordStart..<i, to: &ids); wordStart = -1 }
                appendIds(ofWord: scalars, i..<(i + 1), to: &ids)
            } else if wordStart < 0 {
                wordStart = i
            }
        }
        if wordStart >= 0 { appendIds(ofWord: scalars, wordStart..<scalars.count, to: &ids) }
    }
}
