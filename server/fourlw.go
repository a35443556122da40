package server

import (
	"bufio"

	"github.com/zkserver/zkserver/config"
)

func isFourLetterWord(w string) bool {
	for _, k := range config.KnownFourLetterWords {
		if k == w {
			return true
		}
	}
	return false
}

// fourLetterWord runs a command word sent instead of a ConnectRequest and
// writes its raw output.
func (c *conn) fourLetterWord(word string, br *bufio.Reader) {
	br.Discard(4)
	if !c.s.cfg.FourLetterWordAllowed(word) {
		c.write([]byte(word + " is not executed because it is not in the whitelist.\n"))
		return
	}
	c.write([]byte(c.s.runFourLetterWord(word, br)))
}

func (s *Server) runFourLetterWord(word string, br *bufio.Reader) string {
	switch word {
	case "ruok":
		return "imok"
	}
	return ""
}
