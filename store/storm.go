package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
)

// Storm records and digests are per channel, not per queue, so their keys
// carry no queue hash tag: like the outbox and the due index, they are
// shared by every queue's commit.
func (r *Redis) stormKey(channel string) string { return r.prefix + "storm:" + channel }

// digestKey is a digest's hash: its version, data and message ts. It has
// the layout of an alert's key (the ID holds no "/", so the whole ID is
// the hash tag), which lets MessageTS and SetMessageTS record the digest
// message's ts as they do an alert episode's: the digest is the message
// of "episode" 1 of the ID app.Notification.MessageRef gives it.
func (r *Redis) digestKey(id string) (string, error) {
	if _, _, err := app.ParseDigestID(id); err != nil {
		return "", err
	}
	return r.alertKey(id)
}

// memberField is the digest hash field of one member: its alert episode.
func memberField(m app.DigestMember) string {
	return memberPrefix + m.AlertID + "#" + strconv.Itoa(m.Episode)
}

const memberPrefix = "m:"

// DigestMembers loads every member of a digest.
func (r *Redis) DigestMembers(ctx context.Context, digestID string) ([]app.DigestMember, error) {
	k, err := r.digestKey(digestID)
	if err != nil {
		return nil, err
	}
	h, err := r.rdb.HGetAll(ctx, k).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]app.DigestMember, 0, len(h))
	for f, v := range h {
		if !strings.HasPrefix(f, memberPrefix) {
			continue
		}
		var m app.DigestMember
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			return nil, fmt.Errorf("digest %s member %s: %w", digestID, f, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Storms loads, in at most two round trips, the storm records of channels,
// the digests named, and the latest digest of each channel loaded (the one
// a new storm member may join).
func (r *Redis) Storms(ctx context.Context, channels, digestIDs []string) (map[string]app.VersionedStorm, map[string]app.VersionedDigest, error) {
	storms := make(map[string]app.VersionedStorm, len(channels))
	digests := make(map[string]app.VersionedDigest, len(digestIDs)+len(channels))
	pipe := r.rdb.Pipeline()
	sc := make([]*redis.SliceCmd, len(channels))
	for i, ch := range channels {
		sc[i] = pipe.HMGet(ctx, r.stormKey(ch), "v", "data")
	}
	dc, err := r.queueDigests(ctx, pipe, digestIDs)
	if err != nil {
		return nil, nil, err
	}
	if len(sc)+len(dc) == 0 {
		return storms, digests, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, unavailable(err)
	}
	if err := decodeDigests(digests, digestIDs, dc); err != nil {
		return nil, nil, err
	}
	var latest []string
	for i, ch := range channels {
		var st app.Storm
		v, ok, err := decodeVersioned(sc[i].Val(), &st)
		if err != nil {
			return nil, nil, fmt.Errorf("storm record of %s: %w", ch, err)
		}
		if !ok {
			continue
		}
		storms[ch] = app.VersionedStorm{Storm: st, Version: v}
		if id := app.DigestID(ch, st.Digest); st.Digest > 0 {
			if _, loaded := digests[id]; !loaded {
				latest = append(latest, id)
			}
		}
	}
	if len(latest) == 0 {
		return storms, digests, nil
	}
	pipe = r.rdb.Pipeline()
	if dc, err = r.queueDigests(ctx, pipe, latest); err != nil {
		return nil, nil, err
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, unavailable(err)
	}
	return storms, digests, decodeDigests(digests, latest, dc)
}

func (r *Redis) queueDigests(ctx context.Context, pipe redis.Pipeliner, ids []string) ([]*redis.SliceCmd, error) {
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		k, err := r.digestKey(id)
		if err != nil {
			return nil, err
		}
		cmds[i] = pipe.HMGet(ctx, k, "v", "data")
	}
	return cmds, nil
}

func decodeDigests(into map[string]app.VersionedDigest, ids []string, cmds []*redis.SliceCmd) error {
	for i, id := range ids {
		var d app.Digest
		v, ok, err := decodeVersioned(cmds[i].Val(), &d)
		if err != nil {
			return fmt.Errorf("digest %s: %w", id, err)
		}
		if ok {
			into[id] = app.VersionedDigest{Digest: d, Version: v}
		}
	}
	return nil
}

// decodeVersioned reads an HMGET of "v" and "data" into dst.
func decodeVersioned(vals []any, dst any) (int64, bool, error) {
	if len(vals) != 2 || vals[0] == nil || vals[1] == nil {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(fmt.Sprint(vals[0]), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("bad version: %w", err)
	}
	if err := json.Unmarshal([]byte(fmt.Sprint(vals[1])), dst); err != nil {
		return 0, false, fmt.Errorf("bad data: %w", err)
	}
	return v, true, nil
}
