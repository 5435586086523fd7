import Foundation
import TroveCore
import TroveStorage

/// Library-wide locks as PostgreSQL advisory locks: each held on its own connection, so the
/// server releases it when that connection ends — a process that dies at once, a machine that
/// crashes once keepalives find it gone (about a minute), never a lock left forever.
/// A weak reference to a held lock (the lock's owner decides when it ends).
struct HeldLockRef {
    weak var value: PostgresCatalog.HeldLock?
    init(_ value: PostgresCatalog.HeldLock) { self.value = value }
}

extension PostgresCatalog: SharedLocks {
    /// A held lock; freeing it unlocks it, then closes its connection. The explicit unlock
    /// matters: the server notices a closed connection only a moment later, and a lock freed
    /// here must be free for the next taker at once.
    final class HeldLock {
        let session: PGSession
        init(session: PGSession) { self.session = session }
        deinit {
            _ = session.executeIfAlive("SELECT pg_advisory_unlock_all()", within: 5)
            session.close()
        }
    }

    public func acquireLock(_ name: String, exclusive: Bool, wait: Bool) throws -> AnyObject? {
        let key: LockKey = switch name {
        case "activity": .activity
        case "recovery": .recovery
        default: .records
        }
        let session = try PGSession.connect(url, logger: logger)
        do {
            // A crashed machine's connection is found dead within about a minute.
            try session.execute("SET tcp_keepalives_idle = 20")
            try session.execute("SET tcp_keepalives_interval = 10")
            try session.execute("SET tcp_keepalives_count = 3")
            let function = (wait ? "pg_advisory_lock" : "pg_try_advisory_lock") + (exclusive ? "" : "_shared")
            let rows = try session.query("SELECT \(function)($1, $2)::TEXT", [Self.lockSpace, key.rawValue])
            if !wait, (try rows.first?.get(0, as: String.self)) != "true" {
                session.close()
                return nil
            }
            let held = HeldLock(session: session)
            lock.lock()
            heldLocks.append((name, HeldLockRef(held)))
            lock.unlock()
            return held
        } catch let error as TroveError {
            session.close()
            throw error
        } catch {
            session.close()
            throw TroveError(.catalog, "Cannot take the library's \(name) lock in \(url): \(PGSession.describe(error)).")
        }
    }
}
