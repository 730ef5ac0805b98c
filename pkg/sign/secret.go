package sign

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// SecretPrefix starts every signing secret. It is part of the HMAC key: the
// key is the UTF-8 bytes of the whole secret string, prefix included.
const SecretPrefix = "sk_whsec_"

const (
	// secretBytes is the number of random bytes in a secret (256 bits).
	secretBytes = 32
	// secretHexLen is the length of the hex part after SecretPrefix.
	secretHexLen = 2 * secretBytes
	// maskTail is the number of trailing characters Mask keeps visible.
	maskTail = 4
	// maskedPrefix is what Mask shows in place of the hidden characters.
	maskedPrefix = SecretPrefix + "\u2022\u2022\u2022\u2022\u2026" // "sk_whsec_••••…"
)

// GenerateSecret returns a new signing secret: SecretPrefix followed by the
// 64 lowercase hex characters of 32 bytes read from random with io.ReadFull.
// A nil random means crypto/rand.Reader; tests pass a deterministic reader.
// If random fails or returns fewer than 32 bytes, GenerateSecret returns ""
// and the reader's error wrapped (io.ErrUnexpectedEOF or io.EOF for a short
// reader).
//
// The plaintext is meant to be shown once; store it encrypted and display
// only Mask(secret) afterwards.
func GenerateSecret(random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	var raw [secretBytes]byte
	if _, err := io.ReadFull(random, raw[:]); err != nil {
		return "", fmt.Errorf("sign: generate secret: read %d random bytes: %w", secretBytes, err)
	}
	var out [len(SecretPrefix) + secretHexLen]byte
	copy(out[:], SecretPrefix)
	hex.Encode(out[len(SecretPrefix):], raw[:])
	return string(out[:]), nil
}

// ValidateSecret reports whether secret is well formed: exactly SecretPrefix
// followed by 64 lowercase hex characters ([0-9a-f]). It returns nil or an
// error wrapping ErrInvalidSecret. The error never contains the secret.
func ValidateSecret(secret string) error {
	hexPart, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return fmt.Errorf("secret does not start with %q: %w", SecretPrefix, ErrInvalidSecret)
	}
	if len(hexPart) != secretHexLen {
		return fmt.Errorf("secret has %d characters after the prefix, want %d: %w",
			len(hexPart), secretHexLen, ErrInvalidSecret)
	}
	for i := 0; i < len(hexPart); i++ {
		if !isLowerHex(hexPart[i]) {
			return fmt.Errorf("secret character %d after the prefix is not lowercase hex: %w",
				i+1, ErrInvalidSecret)
		}
	}
	return nil
}

// Mask returns the preview shown after creation: "sk_whsec_••••…" followed by
// the last 4 characters (runes) of secret, e.g. "sk_whsec_••••…9f3a". A
// string shorter than 4 characters is masked entirely and yields
// "sk_whsec_••••…". Mask does not validate secret; it is safe to log.
func Mask(secret string) string {
	if utf8.RuneCountInString(secret) < maskTail {
		return maskedPrefix
	}
	start := len(secret)
	for range maskTail {
		_, size := utf8.DecodeLastRuneInString(secret[:start])
		start -= size
	}
	return maskedPrefix + secret[start:]
}

func isLowerHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f')
}
