import TroveCore
import TroveStorage

extension GridStore {
    /// Checks one object's share on every member, repairs as asked, and says what its shares
    /// are worth. Repair decodes the object from k good shares and writes only the share numbers
    /// no member holds, to members holding no good share (a corrupt share is moved aside first):
    /// a good share is never rewritten.
    public func audit(_ id: ContentID, fromMedia: Bool, repair: ShareRepair) throws -> ShareAudit {
        let list = members
        var good: [Int: Int] = [:]
        var problems: [String] = [], unreachable: [String] = []
        var presumed: [Int] = [], lacking: [Int] = []
        var corrupt = Set<Int>()
        var reference: GridShareHeader?
        for index in list.indices {
            let label = list[index].record.label
            switch inspect(index, id, fromMedia: fromMedia) {
            case .unreachable(let why):
                unreachable.append("\(label): \(why)")
                presumed.append(index)
            case .missing:
                problems.append("\(label): holds no share")
                lacking.append(index)
            case .corrupt(let why):
                problems.append("\(label): share corrupt (\(why))")
                lacking.append(index)
                corrupt.insert(index)
            case .good(let share):
                if let reference, reference.objectSize != share.footer.objectSize || reference.segmentSize != share.footer.segmentSize {
                    problems.append("\(label): share corrupt (it disagrees with the others on the object's size)")
                    lacking.append(index)
                    corrupt.insert(index)
                    continue
                }
                if fromMedia, let bad = firstBadBlock(share) {
                    problems.append("\(label): share corrupt (\(bad))")
                    lacking.append(index)
                    corrupt.insert(index)
                    continue
                }
                reference = reference ?? share.footer
                if good[share.footer.share] == nil { good[share.footer.share] = index } else {
                    problems.append("\(label): holds share \(share.footer.share), which another member holds too")
                }
            }
        }
        var repaired: [String] = []
        let due: Bool
        switch repair {
        case .none: due = false
        case .atThreshold: due = good.count <= config.repairAt
        case .fill: due = true
        }
        let targets = lacking.filter { list[$0].writable }
        if due, good.count >= config.k, !targets.isEmpty, let reference {
            let numbers = (0..<config.n).filter { good[$0] == nil }
            let pairs = zip(targets, numbers).map { (member: $0, share: $1) }
            for pair in pairs where corrupt.contains(pair.member) { _ = try? list[pair.member].shares?.quarantine(id) }
            let done = try rewrite(id, size: reference.objectSize, pairs: pairs, fromMedia: fromMedia)
            for pair in pairs where done.contains(pair.member) {
                good[pair.share] = pair.member
                repaired.append(list[pair.member].record.label)
            }
        }
        let domains = good.values.filter { list[$0].counts }.map { list[$0].record.domain }
            + presumed.filter { list[$0].counts }.map { list[$0].record.domain }
        return ShareAudit(good: good.count, needed: config.k, weight: gridWeight(shareDomains: domains, k: config.k),
                          problems: problems, repaired: repaired, unreachable: unreachable)
    }

    /// The first block of a share that does not match its hash or cannot be read, if any.
    func firstBadBlock(_ share: FoundShare) -> String? {
        for s in 0..<share.footer.segments {
            do { _ = try readBlock(share, segment: s, fromMedia: true) } catch let error as BadShare { return error.reason } catch {
                return "block \(s) cannot be read (\((error as? StoreError)?.message ?? "\(error)"))"
            }
        }
        return nil
    }

    /// Decodes the object from its good shares and writes the given share numbers to the given
    /// members; returns the members whose new share was committed.
    func rewrite(_ id: ContentID, size: UInt64, pairs: [(member: Int, share: Int)], fromMedia: Bool) throws -> [Int] {
        let reader = try GridReader(grid: self, id: id, range: nil, fromMedia: fromMedia)
        defer { reader.close() }
        let writer = try GridWriter(grid: self, id: id, targets: pairs, happy: 0, expectedSize: size)
        var buffer = [UInt8](repeating: 0, count: segmentSize)
        do {
            while true {
                let count = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                if count == 0 { break }
                try buffer.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            }
            try writer.commit(as: id)
        } catch {
            writer.abort()
            throw error
        }
        return writer.committed
    }
}
