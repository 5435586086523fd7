import Foundation
import TroveCore
import TroveStorage

/// Writes one object to several stores at once; a store that fails is dropped and the
/// others carry on (ZEORaid's degraded mirror), so one bad drive never stops an import.
final class MirrorWriter: @unchecked Sendable {
    struct Target {
        let observed: ObservedStore
        var writer: (any ObjectWriter)?
        var error: TroveError?
    }

    private(set) var targets: [Target]

    init(stores: [ObservedStore], expectedSize: UInt64) {
        targets = stores.map { observed in
            do {
                guard let store = observed.store else {
                    return Target(observed: observed, writer: nil, error: TroveError(.storeNotConnected, "store '\(observed.record.label)' is not connected"))
                }
                return Target(observed: observed, writer: try store.makeWriter(expectedSize: expectedSize), error: nil)
            } catch {
                return Target(observed: observed, writer: nil, error: TroveError.from(any: error))
            }
        }
    }

    var live: Int { targets.filter { $0.writer != nil }.count }

    /// Writes to every live target; throws only when none is left.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        for index in targets.indices {
            guard let writer = targets[index].writer else { continue }
            do { try writer.write(bytes) } catch {
                writer.abort()
                targets[index].writer = nil
                targets[index].error = TroveError.from(any: error)
            }
        }
        if live == 0, let error = targets.compactMap(\.error).first { throw error }
    }

    /// Commits every live target under `id`; returns the stores that now hold it.
    func commit(as id: ContentID) -> [ObservedStore] {
        var done: [ObservedStore] = []
        for index in targets.indices {
            guard let writer = targets[index].writer else { continue }
            do {
                try writer.commit(as: id)
                done.append(targets[index].observed)
            } catch {
                targets[index].error = TroveError.from(any: error)
            }
            targets[index].writer = nil
        }
        return done
    }

    /// Hands over the live writers (for a batched commit) and forgets them.
    func take() -> [(ObservedStore, any ObjectWriter)] {
        var live: [(ObservedStore, any ObjectWriter)] = []
        for index in targets.indices {
            if let writer = targets[index].writer { live.append((targets[index].observed, writer)) }
            targets[index].writer = nil
        }
        return live
    }

    func abort() {
        for index in targets.indices {
            targets[index].writer?.abort()
            targets[index].writer = nil
        }
    }

    /// Stores that failed, with their errors.
    var failures: [(ObservedStore, TroveError)] {
        targets.compactMap { target in target.error.map { (target.observed, $0) } }
    }
}
