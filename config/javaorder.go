package config

import (
	"strconv"
	"strings"
	"unicode/utf16"
)

// ZooKeeper lists the members of its config string in the iteration order
// of a java.util.HashMap<Long, QuorumServer> (QuorumMaj.allMembers). That
// order depends on the ids' hashes, the table size and, for ids that share
// a bucket, on the order they were inserted, which is the iteration order
// of the java.util.Properties the file was loaded into (a
// ConcurrentHashMap of every key in zoo.cfg, filled in file order). This
// file reproduces both tables (OpenJDK 9+ Properties, OpenJDK 8+ HashMap)
// closely enough for the order: bucket index, growth and how a resize
// splits (and, for the ConcurrentHashMap, partly reverses) a bucket's
// chain. Tree bins (8+ keys in one bucket of a 64+ table) are not
// modelled; should one occur, ids fall back to ascending order within
// their bucket. Keys are hashed from their decoded UTF-16 form, which is
// what Java sees for ASCII keys (Java reads the file as ISO-8859-1, so a
// non-ASCII key may hash differently).

// javaStringHash is String.hashCode.
func javaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// chmSpread is ConcurrentHashMap.spread.
func chmSpread(h int32) int32 { return (h ^ int32(uint32(h)>>16)) & 0x7fffffff }

// chmOrder returns keys (distinct, in insertion order) in the iteration
// order of a ConcurrentHashMap created as java.util.Properties creates it
// (initial table 16) and filled by single-threaded puts. ok is false if
// the model does not cover the case (a bin reached the treeify threshold).
func chmOrder(keys []string) (order []string, ok bool) {
	type node struct {
		hash int32
		key  string
	}
	n, sizeCtl, count := 16, 12, 0
	tab := make([][]node, n)
	for _, k := range keys {
		h := chmSpread(javaStringHash(k))
		i := int(h) & (n - 1)
		tab[i] = append(tab[i], node{h, k})
		if len(tab[i]) > 8 {
			return nil, false
		}
		count++
		for count >= sizeCtl {
			// transfer: each bin splits into a low and a high list; the
			// longest tail that goes to one side ("lastRun") is kept as is,
			// the nodes before it are prepended one by one.
			next := make([][]node, 2*n)
			for i, bin := range tab {
				if len(bin) == 0 {
					continue
				}
				run := len(bin) - 1
				runBit := bin[run].hash & int32(n)
				for run > 0 && bin[run-1].hash&int32(n) == runBit {
					run--
				}
				var lo, hi []node
				if runBit == 0 {
					lo = append(lo, bin[run:]...)
				} else {
					hi = append(hi, bin[run:]...)
				}
				for _, p := range bin[:run] {
					if p.hash&int32(n) == 0 {
						lo = append([]node{p}, lo...)
					} else {
						hi = append([]node{p}, hi...)
					}
				}
				next[i], next[i+n] = lo, hi
			}
			tab, n = next, 2*n
			sizeCtl = n - n/4
		}
	}
	for _, bin := range tab {
		for _, p := range bin {
			order = append(order, p.key)
		}
	}
	return order, true
}

// hashMapLongOrder returns ids (distinct, in insertion order) in the
// iteration order of a java.util.HashMap<Long, ?> with default settings.
func hashMapLongOrder(ids []int64) []int64 {
	hash := func(id int64) int32 {
		h := int32(id ^ int64(uint64(id)>>32))
		return h ^ int32(uint32(h)>>16)
	}
	n, size := 16, 0
	tab := make([][]int64, n)
	resize := func() {
		next := make([][]int64, 2*n)
		for i, bin := range tab {
			for _, id := range bin {
				if hash(id)&int32(n) == 0 {
					next[i] = append(next[i], id)
				} else {
					next[i+n] = append(next[i+n], id)
				}
			}
		}
		tab, n = next, 2*n
	}
	tree := false
	for _, id := range ids {
		i := int(hash(id)) & (n - 1)
		tab[i] = append(tab[i], id)
		if len(tab[i]) >= 9 {
			// treeifyBin: a small table grows instead; a large one makes
			// a tree bin (not modelled).
			if n < 64 {
				resize()
			} else {
				tree = true
			}
		}
		size++
		if size > n*3/4 {
			resize()
		}
	}
	var out []int64
	for _, bin := range tab {
		if tree && len(bin) >= 9 {
			bin = append([]int64(nil), bin...)
			sortInt64s(bin)
		}
		out = append(out, bin...)
	}
	return out
}

func sortInt64s(s []int64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// javaMemberOrder returns c.Servers in the order ZooKeeper would print
// them. Servers are inserted into the HashMap in the Properties order of
// their "server.N" keys; servers that did not come from the file (no
// such key) follow in ascending id order.
func (c *Config) javaMemberOrder() []QuorumServer {
	byID := map[int64]QuorumServer{}
	for _, q := range c.Servers {
		byID[q.ID] = q
	}
	keys, ok := chmOrder(c.order)
	if !ok {
		keys = nil
	}
	var ids []int64
	used := map[int64]bool{}
	for _, k := range keys {
		rest, isServer := strings.CutPrefix(k, "server.")
		if !isServer {
			continue
		}
		id, err := strconv.ParseInt(rest, 10, 64)
		if _, listed := byID[id]; err != nil || !listed || used[id] {
			continue
		}
		used[id] = true
		ids = append(ids, id)
	}
	for _, q := range c.Servers { // sorted by ID
		if !used[q.ID] {
			used[q.ID] = true
			ids = append(ids, q.ID)
		}
	}
	var out []QuorumServer
	for _, id := range hashMapLongOrder(ids) {
		out = append(out, byID[id])
	}
	return out
}
