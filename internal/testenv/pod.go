package testenv

// PodFlags go ahead of a test pod's own flags (later flags win). The
// resolution ladder is off: its background transcodes would take the two CI
// cores from whatever the test measures, and a viewer whose player picks a
// lower resolution joins another swarm than the viewer before it, which is
// not what a NAT or swarm test is about. Tests of the ladder pass their own
// --resolutions.
var PodFlags = []string{"--resolutions", ""}
