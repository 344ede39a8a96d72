// A small parser for the literal languages tensor file headers are written in: JSON (safetensors)
// and Python literals (the .npy header dictionary). It reads from a byte array with bounds-checked
// indexing, limits nesting, keeps dictionary keys in order with their byte positions and rejects
// duplicate keys, so that a hostile header yields an error with an offset rather than a crash.

/// A value in a file header.
enum HeaderLiteral {
    case string(String)
    case integer(Int)
    /// A number with a fraction or exponent (never valid where a size is expected).
    case number(Double)
    case bool(Bool)
    case null
    /// A JSON array, Python list or Python tuple.
    case list([HeaderLiteral])
    /// A dictionary's entries in order; `offset` is where each key starts in the header.
    case dictionary([(key: String, value: HeaderLiteral, offset: Int)])

    /// A short name of the value's type, for error messages.
    var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .number: return "a non-integer number"
        case .bool: return "a boolean"
        case .null: return "null"
        case .list: return "a list"
        case .dictionary: return "a dictionary"
        }
    }

    /// The value as a list of non-negative integers (a shape or byte range), else `nil`.
    var sizes: [Int]? {
        guard case .list(let items) = self else { return nil }
        var result: [Int] = []
        for item in items {
            guard case .integer(let v) = item, v >= 0 else { return nil }
            result.append(v)
        }
        return result
    }

    /// The value of `key` in a dictionary, else `nil`.
    subscript(key: String) -> HeaderLiteral? {
        guard case .dictionary(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    /// The grammar being parsed.
    enum Dialect {
        /// RFC 8259 JSON.
        case json
        /// Python literals as `repr` writes them: single- or double-quoted strings, `True`,
        /// `False`, `None`, tuples, trailing commas, and Python 2's `L` suffix on integers.
        /// String bytes are UTF-8 when `utf8`, else Latin-1.
        case python(utf8: Bool)
    }

    /// A syntax error at `offset` bytes into the header; `duplicateKey` names a repeated key.
    struct SyntaxError: Error {
        var offset: Int
        var reason: String
        var duplicateKey: String?
    }

    /// The offset of the first byte that is not part of valid UTF-8 in `bytes`, `nil` if all are.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// Parses `bytes` as one value surrounded by optional whitespace.
    static func parse(_ bytes: [UInt8], dialect: Dialect) throws -> HeaderLiteral {
        var parser = Parser(bytes: bytes, dialect: dialect)
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        if parser.position < bytes.count {
            throw parser.failure("unexpected \(parser.describe(parser.position)) after the end of the value")
        }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        let dialect: Dialect
        var position = 0
        static let maxDepth = 32

        init(bytes: [UInt8], dialect: Dialect) {
            self.bytes = bytes
            self.dialect = dialect
        }

        var isJSON: Bool { if case .json = dialect { return true } else { return false } }

        func failure(_ reason: String, at offset: Int? = nil) -> SyntaxError {
            SyntaxError(offset: offset ?? position, reason: reason)
        }

        func describe(_ i: Int) -> String {
            guard i < bytes.count else { return "end of header" }
            let b = bytes[i]
            return b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
        }

        func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipWhitespace() {
            while let b = peek(), b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { position += 1 }
        }

        mutating func expect(_ byte: UInt8) throws {
            guard peek() == byte else {
                throw failure("expected '\(Character(Unicode.Scalar(byte)))', found \(describe(position))")
            }
            position += 1
        }

        mutating func value(depth: Int) throws -> HeaderLiteral {
            guard depth < Parser.maxDepth else { throw failure("nesting deeper than \(Parser.maxDepth) levels") }
            skipWhitespace()
            guard let b = peek() else { throw failure("unexpected end of header, expected a value") }
            switch b {
            case UInt8(ascii: "{"): return try dictionary(depth: depth)
            case UInt8(ascii: "["): return .list(try sequence(closing: UInt8(ascii: "]"), depth: depth))
            case UInt8(ascii: "(") where !isJSON: return .list(try sequence(closing: UInt8(ascii: ")"), depth: depth))
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "'") where !isJSON: return .string(try string())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: return try word()
            }
        }

        mutating func dictionary(depth: Int) throws -> HeaderLiteral {
            var entries: [(key: String, value: HeaderLiteral, offset: Int)] = []
            var seen = Set<String>()
            try delimited(closing: UInt8(ascii: "}")) { parser in
                parser.skipWhitespace()
                let keyOffset = parser.position
                guard case .string(let key) = try parser.value(depth: depth + 1) else {
                    throw parser.failure("dictionary key is not a string", at: keyOffset)
                }
                parser.skipWhitespace()
                try parser.expect(UInt8(ascii: ":"))
                let value = try parser.value(depth: depth + 1)
                if !seen.insert(key).inserted {
                    throw SyntaxError(offset: keyOffset, reason: "key \"\(key)\" appears twice", duplicateKey: key)
                }
                entries.append((key, value, keyOffset))
            }
            return .dictionary(entries)
        }

        mutating func sequence(closing: UInt8, depth: Int) throws -> [HeaderLiteral] {
            var items: [HeaderLiteral] = []
            try delimited(closing: closing) { parser in items.append(try parser.value(depth: depth + 1)) }
            return items
        }

        /// Parses `open item (, item)* close` (Python also allows a trailing comma), calling
        /// `item` for each.
        mutating func delimited(closing: UInt8, _ item: (inout Parser) throws -> Void) throws {
            position += 1  // the opening bracket
            skipWhitespace()
            if peek() == closing { position += 1; return }
            while true {
                try item(&self)
                skipWhitespace()
                if peek() == closing { position += 1; return }
                try expect(UInt8(ascii: ","))
                skipWhitespace()
                if !isJSON && peek() == closing { position += 1; return }
            }
        }

        mutating func string() throws -> String {
            let start = position
            let quote = bytes[position]
            position += 1
            var out: [UInt8] = []
            while true {
                guard let b = peek() else { throw failure("unterminated string", at: start) }
                position += 1
                if b == quote { break }
                if b < 0x20 { throw failure("control character 0x\(String(b, radix: 16)) inside a string", at: position - 1) }
                if b != UInt8(ascii: "\\") {
                    if case .python(utf8: false) = dialect, b >= 0x80 {
                        out.append(contentsOf: String(Unicode.Scalar(b)).utf8)  // Latin-1
                    } else {
                        out.append(b)
                    }
                    continue
                }
                guard let e = peek() else { throw failure("unterminated string", at: start) }
                position += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "'"):
                    if e == UInt8(ascii: "'") && isJSON { throw failure("invalid escape \\'", at: position - 2) }
                    out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hexDigits(4)
                    if (0xD800..<0xDC00).contains(scalar), peek() == UInt8(ascii: "\\"),
                       position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") {
                        position += 2
                        let low = try hexDigits(4)
                        guard (0xDC00..<0xE000).contains(low) else { throw failure("invalid UTF-16 surrogate pair", at: position - 12) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let s = Unicode.Scalar(scalar) else { throw failure("invalid unicode escape", at: position - 6) }
                    out.append(contentsOf: String(s).utf8)
                case UInt8(ascii: "x") where !isJSON:
                    out.append(contentsOf: String(Unicode.Scalar(UInt8(try hexDigits(2)))).utf8)
                default:
                    throw failure("invalid escape \\\(describe(position - 1))", at: position - 2)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        mutating func hexDigits(_ n: Int) throws -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<n {
                guard let b = peek(), let d = Character(Unicode.Scalar(b)).hexDigitValue else {
                    throw failure("expected a hexadecimal digit, found \(describe(position))")
                }
                v = v * 16 + UInt32(d)
                position += 1
            }
            return v
        }

        mutating func number() throws -> HeaderLiteral {
            let start = position
            func digits(_ p: inout Parser) -> Int {
                let s = p.position
                while let b = p.peek(), b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") { p.position += 1 }
                return p.position - s
            }
            if peek() == UInt8(ascii: "-") { position += 1 }
            let intStart = position
            guard digits(&self) > 0 else { throw failure("expected a digit, found \(describe(position))") }
            if isJSON && bytes[intStart] == UInt8(ascii: "0") && position - intStart > 1 {
                throw failure("number with a leading zero", at: start)
            }
            var isInteger = true
            if peek() == UInt8(ascii: ".") {
                position += 1
                isInteger = false
                guard digits(&self) > 0 || !isJSON else { throw failure("expected a digit after '.'") }
            }
            if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                position += 1
                isInteger = false
                if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { position += 1 }
                guard digits(&self) > 0 else { throw failure("expected a digit in the exponent") }
            }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            if !isJSON && isInteger, let l = peek(), l == UInt8(ascii: "L") || l == UInt8(ascii: "l") { position += 1 }
            if isInteger {
                guard let v = Int(text) else { throw failure("integer \(text) does not fit in 64 bits", at: start) }
                return .integer(v)
            }
            guard let v = Double(text) else { throw failure("malformed number \(text)", at: start) }
            return .number(v)
        }

        mutating func word() throws -> HeaderLiteral {
            let start = position
            while let b = peek(), (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) {
                position += 1
            }
            switch (String(decoding: bytes[start..<position], as: UTF8.self), isJSON) {
            case ("true", true), ("True", false): return .bool(true)
            case ("false", true), ("False", false): return .bool(false)
            case ("null", true), ("None", false): return .null
            default: throw failure("unexpected \(describe(start)), expected a value", at: start)
            }
        }
    }
}

extension TensorFileContext {
    /// Parses the header held in `bytes`, which start at byte `start` of the file, as a
    /// dictionary; returns its entries with offsets counted from the start of the file.
    /// - Throws: ``TensorFileError`` of kind `.invalidHeader` (bad UTF-8 or syntax, or not a
    ///   dictionary) or `.duplicateKey`, with the byte offset of the problem.
    func parseHeaderDictionary(_ bytes: [UInt8], startingAt start: Int, dialect: HeaderLiteral.Dialect,
                               checkUTF8: Bool) throws -> [(key: String, value: HeaderLiteral, offset: Int)] {
        if checkUTF8, let bad = HeaderLiteral.firstInvalidUTF8Offset(bytes) {
            throw error(.invalidHeader, at: start + bad, "the header is not valid UTF-8")
        }
        let language = if case .json = dialect { "JSON" } else { "Python literal" }
        let root: HeaderLiteral
        do {
            root = try HeaderLiteral.parse(bytes, dialect: dialect)
        } catch let e as HeaderLiteral.SyntaxError {
            throw error(e.duplicateKey == nil ? .invalidHeader : .duplicateKey, key: e.duplicateKey,
                        at: start + e.offset, "invalid \(language) header: \(e.reason)")
        }
        guard case .dictionary(let items) = root else {
            throw error(.invalidHeader, at: start, "the header is \(root.typeName), not a dictionary")
        }
        return items.map { ($0.key, $0.value, start + $0.offset) }
    }
}
