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
        // Members whose share must go before a new one is written (corrupt, or a duplicate number).
        var clear = Set<Int>()
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
                clear.insert(index)
            case .good(let share):
                if let reference, reference.objectSize != share.footer.objectSize || reference.segmentSize != share.footer.segmentSize {
                    problems.append("\(label): share corrupt (it disagrees with the others on the object's size)")
                    lacking.append(index)
                    clear.insert(index)
                    continue
                }
                if fromMedia {
                    switch checkBlocks(share) {
                    case .good: break
                    case .bad(let why):
                        problems.append("\(label): share corrupt (\(why))")
                        lacking.append(index)
                        clear.insert(index)
                        continue
                    case .unreachable(let why):
                        unreachable.append("\(label): \(why)")
                        presumed.append(index)
                        continue
                    }
                }
                reference = reference ?? share.footer
                if good[share.footer.share] == nil { good[share.footer.share] = index } else {
                    // Adds nothing: it may take a number no member holds.
                    problems.append("\(label): holds share \(share.footer.share), which another member holds too")
                    lacking.append(index)
                    clear.insert(index)
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
            let pairs = repairPlan(id, targets: targets, good: Set(good.keys), away: presumed)
            for pair in pairs where clear.contains(pair.member) { _ = try? list[pair.member].shares?.quarantine(id) }
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

    enum BlockCheck {
        case good
        case bad(String)
        case unreachable(String)
    }

    /// Reads every block of a share from the medium against its hash: the first that does not
    /// match (or that the medium cannot read) makes it bad; a member that stops answering says
    /// nothing about the share.
    func checkBlocks(_ share: FoundShare) -> BlockCheck {
        for s in 0..<share.footer.segments {
            do { _ = try readBlock(share, segment: s, fromMedia: true) } catch let error as BadShare { return .bad(error.reason) } catch let error as StoreError {
                if error.kind == .unavailable || error.kind == .permissionDenied { return .unreachable(error.message) }
                return .bad("block \(s) cannot be read (\(error.message))")
            } catch {
                return .bad("block \(s) cannot be read (\((error as? ObjectCorrupt)?.reason ?? "\(error)"))")
            }
        }
        return .good
    }

    /// Which share number each target member gets: its own number in the object's permuted
    /// order when no member holds it, else a number nobody holds; never a number a member out
    /// of reach is expected to hold (it may still have it).
    func repairPlan(_ id: ContentID, targets: [Int], good: Set<Int>, away: [Int]) -> [(member: Int, share: Int)] {
        let order = ring(for: id)
        func number(_ member: Int) -> Int? { order.firstIndex(of: member).flatMap { $0 < config.n ? $0 : nil } }
        let reserved = Set(away.compactMap(number))
        var free = (0..<config.n).filter { !good.contains($0) && !reserved.contains($0) }
        var plan: [(member: Int, share: Int)] = []
        for target in targets {
            if let own = number(target), let at = free.firstIndex(of: own) {
                plan.append((target, own))
                free.remove(at: at)
            } else if let first = free.first {
                plan.append((target, first))
                free.removeFirst()
            }
        }
        return plan
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
