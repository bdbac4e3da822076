package videos

import (
	"context"
	"fmt"
)

// RemoveAllOf removes every local video of owner, as Remove does (seeding
// stops, files go, friends are told), for an account that is deleted.
func (s *Service) RemoveAllOf(ctx context.Context, owner string) error {
	for {
		l, err := s.listByOwner(owner, 0, 100)
		if err != nil {
			return err
		}
		if len(l.Data) == 0 {
			return nil
		}
		for _, v := range l.Data {
			if err := s.Remove(ctx, v.ID, owner, true); err != nil {
				return fmt.Errorf("videos: remove %s of %s: %w", v.ID, owner, err)
			}
		}
	}
}
