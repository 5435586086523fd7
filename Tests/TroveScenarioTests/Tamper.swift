import GRDB

/// Edits the catalog behind Trove's back, as bit rot or a buggy tool would.
func tamper(_ path: String, _ sql: String) throws {
    try DatabaseQueue(path: path).write { try $0.execute(sql: sql) }
}
