package session

// Java's java.util.Random is a 48-bit linear congruential generator. The
// constants below are the ones it documents; reproducing it bit for bit lets
// session passwords interoperate with Java servers.
const (
	lcgMultiplier = 0x5DEECE66D
	lcgAddend     = 0xB
	lcgMask       = (int64(1) << 48) - 1

	// passwordSeedSalt is XORed with the session id to seed the generator.
	passwordSeedSalt = 0xB3415C00

	// PasswordLen is the length of a session password in bytes.
	PasswordLen = 16
)

// javaRandom reproduces the output of java.util.Random.
type javaRandom struct {
	seed int64
}

func newJavaRandom(seed int64) *javaRandom {
	return &javaRandom{seed: (seed ^ lcgMultiplier) & lcgMask}
}

// next32 advances the generator and returns the top 32 of its 48 state bits
// as a signed integer.
func (r *javaRandom) next32() int32 {
	r.seed = (r.seed*lcgMultiplier + lcgAddend) & lcgMask
	return int32(r.seed >> 16)
}

// fill writes random bytes into b, taking one 32-bit value per four bytes
// and emitting its bytes least significant first.
func (r *javaRandom) fill(b []byte) {
	for i := 0; i < len(b); {
		v := r.next32()
		for n := 0; n < 4 && i < len(b); n++ {
			b[i] = byte(v)
			v >>= 8
			i++
		}
	}
}

// Password returns the 16-byte password of session id, identical to the one a
// Java ZooKeeper server derives for the same id.
func Password(id int64) []byte {
	b := make([]byte, PasswordLen)
	newJavaRandom(id ^ passwordSeedSalt).fill(b)
	return b
}
