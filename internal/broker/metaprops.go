package broker

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// metaProps is a log dir's meta.properties: which cluster and node the
// directory belongs to, in Kafka's format, so a directory is never attached to
// the wrong node or cluster by mistake.
type metaProps struct {
	ClusterID string
	NodeID    string
}

const metaPropsFile = "meta.properties"

// newClusterID returns a random cluster id as Kafka prints them: a UUID in
// URL-safe base64 without padding.
func newClusterID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func readMetaProps(dir string) (metaProps, bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, metaPropsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return metaProps{}, false, nil
	}
	if err != nil {
		return metaProps{}, false, err
	}
	var mp metaProps
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "cluster.id":
			mp.ClusterID = strings.TrimSpace(v)
		case "node.id":
			mp.NodeID = strings.TrimSpace(v)
		}
	}
	if mp.ClusterID == "" || mp.NodeID == "" {
		return mp, true, fmt.Errorf("%s in %s lacks cluster.id or node.id", metaPropsFile, dir)
	}
	return mp, true, nil
}

// writeMetaProps writes meta.properties durably: a temporary file, fsync,
// rename, fsync of the directory.
func writeMetaProps(dir string, mp metaProps) error {
	var dirID [16]byte
	_, _ = rand.Read(dirID[:])
	body := fmt.Sprintf("#\n#Written by Sluice\nversion=1\ncluster.id=%s\nnode.id=%s\ndirectory.id=%s\n",
		mp.ClusterID, mp.NodeID, base64.RawURLEncoding.EncodeToString(dirID[:]))
	tmp := filepath.Join(dir, metaPropsFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, metaPropsFile)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// prepareLogDirs creates the log dirs and checks or writes their
// meta.properties, returning the cluster id they agree on. A directory formatted
// before keeps its id, and a configured cluster.id (configured, "" if unset) must
// match it; on first start the configured id is used, or a new random one. A node of a
// multi-node cluster (needShared) must be given cluster.id on first start: every node
// must agree on one id, and no node can invent it alone.
func prepareLogDirs(dirs []string, nodeID int32, configured string, needShared bool) (string, error) {
	clusterID := ""
	var missing []string
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("create log dir: %w", err)
		}
		mp, ok, err := readMetaProps(dir)
		if err != nil {
			return "", err
		}
		if !ok {
			missing = append(missing, dir)
			continue
		}
		if mp.NodeID != fmt.Sprint(nodeID) {
			return "", fmt.Errorf("log dir %s belongs to node %s, not node.id %d", dir, mp.NodeID, nodeID)
		}
		if clusterID != "" && mp.ClusterID != clusterID {
			return "", fmt.Errorf("log dir %s belongs to cluster %s, other dirs to %s", dir, mp.ClusterID, clusterID)
		}
		clusterID = mp.ClusterID
	}
	switch {
	case clusterID != "" && configured != "" && configured != clusterID:
		return "", fmt.Errorf("cluster.id %s does not match the log dirs' %s", configured, clusterID)
	case clusterID == "" && configured != "":
		clusterID = configured
	case clusterID == "" && needShared:
		return "", fmt.Errorf("a node of a multi-node cluster needs cluster.id on its first start: set the same id (for example %s) on every node", newClusterID())
	case clusterID == "":
		clusterID = newClusterID()
	}
	for _, dir := range missing {
		if err := writeMetaProps(dir, metaProps{ClusterID: clusterID, NodeID: fmt.Sprint(nodeID)}); err != nil {
			return "", fmt.Errorf("write %s in %s: %w", metaPropsFile, dir, err)
		}
	}
	return clusterID, nil
}
