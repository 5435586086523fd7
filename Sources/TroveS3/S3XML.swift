/// A tiny XML reader for the few small documents S3 sends back (list results, upload ids, errors).
///
/// Not a general XML parser: it builds a tree of elements, ignores attributes, namespaces prefixes,
/// comments, processing instructions and the DOCTYPE, and decodes the five named entities plus
/// numeric character references. CDATA sections are kept as text.
struct S3XMLNode: Sendable {
    var name: String
    var children: [S3XMLNode] = []
    var text: String = ""

    func child(_ name: String) -> S3XMLNode? { children.first { $0.name == name } }
    func all(_ name: String) -> [S3XMLNode] { children.filter { $0.name == name } }
    /// Text of the first child called `name`.
    func value(_ name: String) -> String? { child(name)?.text }

    static func parse(_ bytes: [UInt8]) -> S3XMLNode? {
        var parser = Parser(bytes: bytes)
        return parser.document()
    }
}

private struct Parser {
    let bytes: [UInt8]
    var i = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() -> S3XMLNode? {
        var stack: [S3XMLNode] = []
        var root: S3XMLNode?
        var text: [UInt8] = []
        while i < bytes.count {
            if bytes[i] != UInt8(ascii: "<") {
                text.append(bytes[i])
                i += 1
                continue
            }
            if starts("<!--") {
                guard skip(past: "-->") else { return nil }
                continue
            }
            if starts("<![CDATA[") {
                i += 9
                let start = i
                guard skip(past: "]]>") else { return nil }
                // Keep raw; entity decoding below must not touch it, so mark it by decoding now.
                if !stack.isEmpty { stack[stack.count - 1].text += decode(text) + String(decoding: bytes[start..<(i - 3)], as: UTF8.self) }
                text.removeAll()
                continue
            }
            if starts("<?") || starts("<!") {
                guard skip(past: ">") else { return nil }
                continue
            }
            // A tag: flush pending text into the open element.
            if !stack.isEmpty, !text.isEmpty { stack[stack.count - 1].text += decode(text) }
            text.removeAll()
            let closing = i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "/")
            let start = i
            guard skip(past: ">") else { return nil }
            var inner = Array(bytes[(start + (closing ? 2 : 1))..<(i - 1)])
            let selfClosing = inner.last == UInt8(ascii: "/")
            if selfClosing { inner.removeLast() }
            let name = localName(inner)
            if closing {
                guard let element = stack.popLast(), element.name == name else { return nil }
                if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
            } else {
                let element = S3XMLNode(name: name)
                if selfClosing {
                    if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
                } else {
                    stack.append(element)
                }
            }
        }
        return stack.isEmpty ? root : nil
    }

    private func starts(_ prefix: String) -> Bool {
        let p = Array(prefix.utf8)
        return i + p.count <= bytes.count && Array(bytes[i..<(i + p.count)]) == p
    }

    /// Moves `i` just past the next occurrence of `marker`; false when there is none.
    private mutating func skip(past marker: String) -> Bool {
        let m = Array(marker.utf8)
        var j = i
        while j + m.count <= bytes.count {
            if bytes[j] == m[0], Array(bytes[j..<(j + m.count)]) == m {
                i = j + m.count
                return true
            }
            j += 1
        }
        return false
    }

    /// The element name without attributes or a namespace prefix.
    private func localName(_ inner: [UInt8]) -> String {
        let end = inner.firstIndex { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D } ?? inner.count
        let qualified = String(decoding: inner[..<end], as: UTF8.self)
        if let colon = qualified.lastIndex(of: ":") { return String(qualified[qualified.index(after: colon)...]) }
        return qualified
    }

    private func decode(_ raw: [UInt8]) -> String {
        guard raw.contains(UInt8(ascii: "&")) else { return String(decoding: raw, as: UTF8.self) }
        let s = String(decoding: raw, as: UTF8.self)
        var out = ""
        var rest = Substring(s)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 12 else {
                out += "&"
                rest = rest[rest.index(after: amp)...]
                continue
            }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var scalar: Unicode.Scalar?
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if entity.hasPrefix("#") {
                    scalar = UInt32(entity.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init)
                }
                if let scalar { out.unicodeScalars.append(scalar) } else { out += rest[amp...semi] }
            }
            rest = rest[rest.index(after: semi)...]
        }
        out += rest
        return out
    }
}

enum XMLText {
    /// Escapes text for an element body.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }
}
