package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/token"
)

// Signing keys live in the store, sealed under the KEK, so that every
// replica signs and publishes the same keys. The active key is the oldest
// key that is not retired (replicas that race at first start agree on it);
// retired keys stay in the JWKS for twice the token lifetime, so a token
// signed just before a rotation still verifies until it expires.

func signingKeyAAD(kid string) []byte { return []byte("assay-signing-key\x00" + kid) }

// loadKeys reads the signing keys, creating the first one if none is
// active, and installs the issuer and JWKS.
func (s *Server) loadKeys(ctx context.Context) error {
	keys, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	if activeKey(keys) == nil {
		if _, err := s.createKey(ctx); err != nil {
			return err
		}
		if keys, err = s.st.ListSigningKeys(ctx); err != nil {
			return fmt.Errorf("load signing keys: %w", err)
		}
	}
	return s.installKeys(keys)
}

func activeKey(keys []store.SigningKey) *store.SigningKey {
	var best *store.SigningKey
	for i := range keys {
		k := &keys[i]
		if !k.RetiredAt.IsZero() {
			continue
		}
		if best == nil || k.CreatedAt.Before(best.CreatedAt) || k.CreatedAt.Equal(best.CreatedAt) && k.KID < best.KID {
			best = k
		}
	}
	return best
}

func (s *Server) createKey(ctx context.Context) (string, error) {
	k, err := token.GenerateKey()
	if err != nil {
		return "", fmt.Errorf("generate signing key: %w", err)
	}
	der, err := token.MarshalPrivateKey(k)
	if err != nil {
		return "", fmt.Errorf("marshal signing key: %w", err)
	}
	pub, err := k.PublicJWK()
	if err != nil {
		return "", fmt.Errorf("signing key JWK: %w", err)
	}
	kid := k.KID
	sealed, kekID, err := s.kr.Seal(der, signingKeyAAD(kid))
	if err != nil {
		return "", fmt.Errorf("seal signing key: %w", err)
	}
	sk := store.SigningKey{KID: kid, Alg: "ES256", Sealed: sealed, KEKID: kekID, Public: pub, CreatedAt: s.now()}
	if err := s.st.PutSigningKey(ctx, sk); err != nil && !errors.Is(err, store.ErrConflict) {
		return "", fmt.Errorf("store signing key: %w", err)
	}
	return kid, nil
}

func (s *Server) installKeys(keys []store.SigningKey) error {
	act := activeKey(keys)
	if act == nil {
		return errors.New("no active signing key")
	}
	der, err := s.kr.Open(act.Sealed, act.KEKID, signingKeyAAD(act.KID))
	if err != nil {
		return fmt.Errorf("unseal signing key %s: %w", act.KID, err)
	}
	k, err := token.ParsePrivateKey(der)
	if err != nil {
		return fmt.Errorf("signing key %s: %w", act.KID, err)
	}
	keep := s.now().Add(-2 * s.cfg.TokenTTL)
	var published [][]byte
	for _, o := range keys {
		if o.KID == act.KID {
			continue
		}
		if o.RetiredAt.IsZero() || o.RetiredAt.After(keep) {
			published = append(published, o.Public)
		}
	}
	iss, err := token.NewIssuer(s.cfg.Issuer, k, published)
	if err != nil {
		return fmt.Errorf("token issuer: %w", err)
	}
	jwks, err := iss.JWKS()
	if err != nil {
		return fmt.Errorf("JWKS: %w", err)
	}
	s.mu.Lock()
	s.issuer, s.jwks = iss, jwks
	s.mu.Unlock()
	return nil
}

func (s *Server) currentIssuer() *token.Issuer {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.issuer
}

func (s *Server) currentJWKS() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.jwks
}

// ReloadKeys re-reads the signing keys (another replica may have rotated).
func (s *Server) ReloadKeys(ctx context.Context) error {
	keys, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	return s.installKeys(keys)
}

// WatchKeys reloads the signing keys every interval until ctx ends.
func (s *Server) WatchKeys(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		if err := s.ReloadKeys(ctx); err != nil {
			s.cfg.Logger.Warn("signing key reload failed", "err", err)
		}
	})
}

// RotateKey creates a new signing key and retires every other one; it
// returns the new key's ID.
func (s *Server) RotateKey(ctx context.Context) (string, error) {
	kid, err := s.createKey(ctx)
	if err != nil {
		return "", err
	}
	keys, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return "", err
	}
	now := s.now()
	for _, k := range keys {
		if k.KID != kid && k.RetiredAt.IsZero() {
			if err := s.st.RetireSigningKey(ctx, k.KID, now); err != nil && !errors.Is(err, store.ErrConflict) {
				return "", fmt.Errorf("retire signing key %s: %w", k.KID, err)
			}
		}
	}
	if err := s.ReloadKeys(ctx); err != nil {
		return "", err
	}
	return kid, nil
}

// Reseal re-encrypts every secret version and signing key sealed under a
// KEK other than the keyring's active one, and returns how many items it
// moved. Run it after adding a new KEK at the head of the keyring file;
// the old KEK can leave the file once it reports nothing left.
func (s *Server) Reseal(ctx context.Context) (int, error) {
	active := s.kr.Active()
	moved := 0
	for _, id := range s.kr.IDs() {
		if id == active {
			continue
		}
		secrets, err := s.st.ListSealedWith(ctx, id)
		if err != nil {
			return moved, err
		}
		for _, sec := range secrets {
			sealed, to, err := s.kr.Reseal(sec.Sealed, id, SecretAAD(sec.Path, sec.Policy))
			if err != nil {
				return moved, fmt.Errorf("reseal %s version %d: %w", sec.Path, sec.Version, err)
			}
			if err := s.st.Reseal(ctx, sec.Path, sec.Version, id, to, sealed); err != nil && !errors.Is(err, store.ErrConflict) {
				return moved, err
			}
			moved++
		}
	}
	keys, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return moved, err
	}
	for _, k := range keys {
		if k.KEKID == active || !slices.Contains(s.kr.IDs(), k.KEKID) {
			continue
		}
		sealed, to, err := s.kr.Reseal(k.Sealed, k.KEKID, signingKeyAAD(k.KID))
		if err != nil {
			return moved, fmt.Errorf("reseal signing key %s: %w", k.KID, err)
		}
		if err := s.st.ResealSigningKey(ctx, k.KID, k.KEKID, to, sealed); err != nil && !errors.Is(err, store.ErrConflict) {
			return moved, err
		}
		moved++
	}
	return moved, nil
}
