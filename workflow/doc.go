// Package workflow is the document office of lienthong: the organisation directory, users and API
// tokens, registers and their gapless numbering, the incoming and outgoing state machines (Decree
// 30/2020/NĐ-CP), content-addressed files and the hash-chained audit log, all on PostgreSQL.
//
// Every write runs in one transaction with its number, its files and its audit record; each write API
// has a …Tx twin so other packages (the exchange side) can add their own rows to the same transaction.
// The package declares the small interfaces it needs from others: a Dispatcher that enqueues deliveries
// of an issued document and a StatusNotifier that sends edXML statuses back to a sender.
package workflow
