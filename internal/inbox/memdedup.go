package inbox

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// memDedup remembers accepted message keys, the newest `keep` of them: a
// memory inbox is for development and tests, and a bounded set keeps a long
// load test from growing without end.
//
// A key is kept as a 128-bit hash of (tenant, channel, id), not as its
// strings: the map and the ring then hold no pointers, so the collector
// never scans them. Kept as three strings, a full set of 200,000 was 31 MB
// that every collection scanned (BenchmarkMemoryDedup's scan-bytes; as
// hashes, 13 MB and none of it scanned), and it kept each accepted id's
// string alive long after its message was dropped.
//
// Two keys colliding would take a fresh message for a redelivery and drop
// it. With n keys remembered, the chance that any two of them share a hash
// is at most n²/2^129: for the default n = 200,000 that is 4·10¹⁰/6.8·10³⁸
// ≈ 5.9·10⁻²⁹, and a single new message meets one of the n at most
// n/2^128 ≈ 5.9·10⁻³⁴. The seeds are random and never leave the process (as
// the keys never do: a memory inbox dies with its process), so a sender
// cannot choose ids that collide.
type memDedup struct {
	keep  int
	gen   uint64
	seen  map[memDedupKey]uint64 // key → generation it was added in
	order ring[memDedupSlot]
}

// memDedupKey is a message key's 128-bit hash (memDedupKeyOf).
type memDedupKey [2]uint64

type memDedupSlot struct {
	k   memDedupKey
	gen uint64
}

// memDedupSeeds make the two halves of a memDedupKey: independent 64-bit
// hashes of the same bytes.
var memDedupSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func newMemDedup(keep int) memDedup {
	return memDedup{keep: keep, seen: make(map[memDedupKey]uint64)}
}

// memDedupKeyOf hashes m's (tenant, channel, id). Each string goes in
// behind its length, so no two different triples hash the same bytes
// ("ab"+"c" and "a"+"bc" differ).
func memDedupKeyOf(tenant string, channel chat.Channel, id string) memDedupKey {
	var k memDedupKey
	for i, seed := range memDedupSeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		for _, s := range [3]string{tenant, string(channel), id} {
			var n [8]byte
			binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
			_, _ = h.Write(n[:])
			_, _ = h.WriteString(s)
		}
		k[i] = h.Sum64()
	}
	return k
}

// add records m's key; false if it was already there.
func (d *memDedup) add(m chat.Message) bool {
	k := memDedupKeyOf(m.TenantID, m.Channel, m.ID)
	if _, dup := d.seen[k]; dup {
		return false
	}
	d.gen++
	d.seen[k] = d.gen
	d.order.push(memDedupSlot{k, d.gen})
	for d.keep > 0 && d.order.len() > d.keep {
		old := d.order.pop()
		if d.seen[old.k] == old.gen {
			delete(d.seen, old.k)
		}
	}
	return true
}

// forget drops m's key (its message was pruned or erased): the same id is
// then accepted as a new message. Its slot stays in the ring until its turn
// and is then recognised as stale by its generation.
func (d *memDedup) forget(m chat.Message) {
	delete(d.seen, memDedupKeyOf(m.TenantID, m.Channel, m.ID))
}
