package federation

import (
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }
