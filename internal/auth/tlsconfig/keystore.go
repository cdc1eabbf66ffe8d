package tlsconfig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// storeType normalises a keystore or truststore type: PEM when unset.
func storeType(t, setting string) (string, error) {
	switch strings.ToUpper(strings.TrimSpace(t)) {
	case "", "PEM":
		return "PEM", nil
	case "PKCS12":
		return "PKCS12", nil
	case "JKS":
		return "", fmt.Errorf("tls: %s JKS is not supported: convert the store with keytool -importkeystore -deststoretype PKCS12, or use PEM", setting)
	default:
		return "", fmt.Errorf("tls: unsupported %s %q: want PEM or PKCS12", setting, t)
	}
}

// loadKeystore returns the node's certificate, or nil when no keystore is set.
func loadKeystore(s Settings) (*tls.Certificate, error) {
	typ, err := storeType(s.KeystoreType, KeyKeystoreType)
	if err != nil {
		return nil, err
	}
	inline := s.KeystoreCertificateChain != "" || s.KeystoreKey != ""
	switch {
	case inline && s.KeystoreLocation != "":
		return nil, fmt.Errorf("tls: set either %s or %s and %s, not both", KeyKeystoreLocation, KeyKeystoreCertificateChain, KeyKeystoreKey)
	case inline && typ != "PEM":
		return nil, fmt.Errorf("tls: %s and %s need %s PEM", KeyKeystoreCertificateChain, KeyKeystoreKey, KeyKeystoreType)
	case inline && (s.KeystoreCertificateChain == "" || s.KeystoreKey == ""):
		return nil, fmt.Errorf("tls: %s and %s go together", KeyKeystoreCertificateChain, KeyKeystoreKey)
	case inline:
		return pemKeyPair([]byte(s.KeystoreCertificateChain+"\n"+s.KeystoreKey), s.KeyPassword, "the inline keystore")
	case s.KeystoreLocation == "":
		return nil, nil
	}
	data, err := os.ReadFile(s.KeystoreLocation)
	if err != nil {
		return nil, fmt.Errorf("tls: read keystore: %w", err)
	}
	if typ == "PKCS12" {
		key, leaf, chain, err := pkcs12.DecodeChain(data, s.KeystorePassword)
		if err != nil {
			return nil, fmt.Errorf("tls: decode PKCS12 keystore %s: %w", s.KeystoreLocation, err)
		}
		cert := &tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
		for _, c := range chain {
			cert.Certificate = append(cert.Certificate, c.Raw)
		}
		if err := checkKeyMatches(leaf, key); err != nil {
			return nil, fmt.Errorf("tls: keystore %s: %w", s.KeystoreLocation, err)
		}
		return cert, nil
	}
	return pemKeyPair(data, s.KeyPassword, s.KeystoreLocation)
}

// pemKeyPair reads one private key and a certificate chain (leaf first) from PEM.
func pemKeyPair(data []byte, keyPassword, source string) (*tls.Certificate, error) {
	var certs [][]byte
	var keyBlock *pem.Block
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			certs = append(certs, b.Bytes)
		case b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED"):
			return nil, fmt.Errorf("tls: %s: encrypted private keys are not supported; decrypt it (openssl pkcs8 -topk8 -nocrypt)", source)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if keyBlock != nil {
				return nil, fmt.Errorf("tls: %s holds more than one private key", source)
			}
			keyBlock = b
		}
	}
	if keyBlock == nil {
		return nil, fmt.Errorf("tls: %s holds no private key", source)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("tls: %s holds no certificate", source)
	}
	_ = keyPassword // only encrypted keys would need it, and they are refused above
	cert, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[0]}), pem.EncodeToMemory(keyBlock))
	if err != nil {
		return nil, fmt.Errorf("tls: %s: %w", source, err)
	}
	cert.Certificate = certs
	return &cert, nil
}

// checkKeyMatches says whether key is the private half of leaf's public key.
func checkKeyMatches(leaf *x509.Certificate, key crypto.PrivateKey) error {
	type publicKeyer interface{ Public() crypto.PublicKey }
	pk, ok := key.(publicKeyer)
	if !ok {
		return errors.New("unsupported private key type")
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch pub := pk.Public().(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		if !pub.(equaler).Equal(leaf.PublicKey) {
			return errors.New("the private key does not match the certificate")
		}
		return nil
	default:
		return errors.New("unsupported private key type")
	}
}

// loadTruststore returns the trusted CAs, or nil (the system's roots) when none is set.
func loadTruststore(s Settings) (*x509.CertPool, error) {
	typ, err := storeType(s.TruststoreType, KeyTruststoreType)
	if err != nil {
		return nil, err
	}
	var data []byte
	source := s.TruststoreLocation
	switch {
	case s.TruststoreCertificates != "" && s.TruststoreLocation != "":
		return nil, fmt.Errorf("tls: set either %s or %s, not both", KeyTruststoreLocation, KeyTruststoreCertificates)
	case s.TruststoreCertificates != "":
		if typ != "PEM" {
			return nil, fmt.Errorf("tls: %s needs %s PEM", KeyTruststoreCertificates, KeyTruststoreType)
		}
		data, source = []byte(s.TruststoreCertificates), "the inline truststore"
	case s.TruststoreLocation != "":
		if data, err = os.ReadFile(s.TruststoreLocation); err != nil {
			return nil, fmt.Errorf("tls: read truststore: %w", err)
		}
	default:
		return nil, nil
	}
	pool := x509.NewCertPool()
	if typ == "PKCS12" {
		certs, err := pkcs12.DecodeTrustStore(data, s.TruststorePassword)
		if err != nil {
			return nil, fmt.Errorf("tls: decode PKCS12 truststore %s: %w", source, err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
		if len(certs) == 0 {
			return nil, fmt.Errorf("tls: %s holds no certificate", source)
		}
		return pool, nil
	}
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tls: %s: %w", source, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("tls: %s holds no certificate", source)
	}
	return pool, nil
}
