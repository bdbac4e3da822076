// Package identity holds the pod's RSA key pair: created at first start in
// the data dir with 0600 permissions, loaded afterwards. Federation signs
// every pod-to-pod request with it and GET /api/v1/pod publishes the public
// half, so friends can verify what this pod sends.
package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Bits is the size of keys created here.
const Bits = 2048

// FileName is the private key file inside the data dir.
const FileName = "pod_key.pem"

// Identity is the pod's key pair.
type Identity struct {
	Key          *rsa.PrivateKey
	PublicKeyPEM string
}

// LoadOrCreate reads the key from dir, creating it on first start. The file
// is written to a temporary name and renamed, so a crash never leaves a
// truncated key behind.
func LoadOrCreate(dir string) (*Identity, error) {
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		return parse(path, data)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("identity: read %s: %w", path, err)
	}
	key, err := rsa.GenerateKey(rand.Reader, Bits)
	if err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("identity: encode key: %w", err)
	}
	data = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return nil, fmt.Errorf("identity: write key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("identity: write key: %w", err)
	}
	return fromKey(key)
}

func parse(path string, data []byte) (*Identity, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("identity: %s holds no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity: parse %s: %w", path, err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok || key.N.BitLen() < Bits {
		return nil, fmt.Errorf("identity: %s is not an RSA key of at least %d bits", path, Bits)
	}
	return fromKey(key)
}

func fromKey(key *rsa.PrivateKey) (*Identity, error) {
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("identity: encode public key: %w", err)
	}
	return &Identity{Key: key, PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}, nil
}

// ParsePublicKey decodes a PEM public key as published in pod info.
func ParsePublicKey(pemText string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("identity: public key is not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity: parse public key: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < Bits {
		return nil, fmt.Errorf("identity: public key is not RSA of at least %d bits", Bits)
	}
	return pub, nil
}
