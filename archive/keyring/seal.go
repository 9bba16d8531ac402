package keyring

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// sealKey derives the key that seals secrets of a purpose ("totp") from
// the keyring's blind key, which the archive's identity derives: a
// different purpose label, a different key.
func (k *Keyring) sealKey(purpose string) ([]byte, error) {
	if purpose == "" {
		return nil, errors.New("keyring: seal: no purpose")
	}
	return hkdf.Key(sha256.New, k.blind, nil, "spanvault sealed secrets v1: "+purpose, chacha20poly1305.KeySize)
}

// Seal encrypts a secret of a purpose with XChaCha20-Poly1305 under a key
// derived for that purpose, bound to ad (the secret's owner, say): the
// result is the random nonce and the ciphertext.
func (k *Keyring) Seal(purpose string, secret, ad []byte) ([]byte, error) {
	key, err := k.sealKey(purpose)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(secret)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, secret, ad), nil
}

// Unseal opens what Seal sealed for the same purpose and ad.
func (k *Keyring) Unseal(purpose string, sealed, ad []byte) ([]byte, error) {
	key, err := k.sealKey(purpose)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("keyring: sealed secret too short")
	}
	out, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], ad)
	if err != nil {
		return nil, fmt.Errorf("keyring: sealed %s secret does not open with this identity", purpose)
	}
	return out, nil
}
