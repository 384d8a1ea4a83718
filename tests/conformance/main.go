// controlplane-conformance walks every operation the control-plane twin serves with the official
// Go SDK (v0.5.2), creating, reading, listing and deleting one of each thing, and fails on any
// answer the SDK cannot decode but the one limit of the SDK recorded below.
//
// Usage: controlplane-conformance -baseUrl URL   (the token in CONTROLPLANE_TOKEN)
// Prints "ok <operation>" per call, "limit <operation>: ..." for the SDK's known limit, and
// "FAIL <operation>: ..." (exit 1) for anything else.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/synadia-io/control-plane-sdk-go/syncp"
)

// sdkCompressionLimit: v0.5.2 decodes a stream's compression as S2Compression, whose only value
// is "s2", though the document allows "none" (the server's default): such a stream's answers
// cannot be decoded by this SDK.
const sdkCompressionLimit = "S2Compression"

type walk struct {
	ctx    context.Context
	client *syncp.APIClient
}

func fail(operation string, err error) {
	body := ""
	var apiErr *syncp.GenericOpenAPIError
	if errors.As(err, &apiErr) {
		body = " " + string(apiErr.Body())
	}
	fmt.Printf("FAIL %s: %v%s\n", operation, err, body)
	os.Exit(1)
}

func ok(operation string, response *http.Response, err error) {
	if err != nil {
		fail(operation, err)
	}
	fmt.Printf("ok %s (%d)\n", operation, response.StatusCode)
}

func main() {
	baseURL := flag.String("baseUrl", "", "the control-plane API, e.g. http://127.0.0.1:8091")
	flag.Parse()
	ctx := context.WithValue(context.Background(), syncp.ContextServerVariables, map[string]string{
		"baseUrl": *baseURL,
	})
	ctx = context.WithValue(ctx, syncp.ContextAccessToken, os.Getenv("CONTROLPLANE_TOKEN"))
	w := walk{ctx: ctx, client: syncp.NewAPIClient(syncp.NewConfiguration())}
	systemID := w.teamsAndSystems()
	accountID := w.account(systemID)
	w.users(accountID)
	w.buckets(accountID)
	w.streams(accountID)
	w.knownLimit(accountID)
	response, err := w.client.AccountAPI.DeleteAccount(ctx, accountID).Execute()
	ok("DeleteAccount", response, err)
	accounts, response, err := w.client.SystemAPI.ListAccounts(ctx, systemID).Execute()
	ok("ListAccounts after delete", response, err)
	for _, account := range accounts.Items {
		if account.Id == accountID {
			fail("DeleteAccount", fmt.Errorf("account %s is still listed", accountID))
		}
	}
	fmt.Println("done")
}

func (w walk) teamsAndSystems() string {
	teams, response, err := w.client.SessionAPI.ListTeams(w.ctx).Execute()
	ok("ListTeams", response, err)
	teamID := teams.Items[0].Id
	_, response, err = w.client.TeamAPI.GetTeam(w.ctx, teamID).Execute()
	ok("GetTeam", response, err)
	systems, response, err := w.client.TeamAPI.ListTeamSystems(w.ctx, teamID).Execute()
	ok("ListTeamSystems", response, err)
	systemID := systems.Items[0].Id
	_, response, err = w.client.SystemAPI.GetSystem(w.ctx, systemID).Execute()
	ok("GetSystem", response, err)
	return systemID
}

func (w walk) account(systemID string) string {
	request := syncp.AccountCreateRequest{
		Name: "CONFORMANCE",
		JwtSettings: &syncp.AccountJWTSettings{
			Info: syncp.Info{Description: syncp.Ptr("walked by the SDK")},
			Tags: []string{"conformance"},
		},
	}
	account, response, err := w.client.SystemAPI.CreateAccount(w.ctx, systemID).
		AccountCreateRequest(request).Execute()
	ok("CreateAccount", response, err)
	_, response, err = w.client.SystemAPI.ListAccounts(w.ctx, systemID).Execute()
	ok("ListAccounts", response, err)
	_, response, err = w.client.AccountAPI.GetAccount(w.ctx, account.Id).Execute()
	ok("GetAccount", response, err)
	_, response, err = w.client.AccountAPI.GetAccountInfo(w.ctx, account.Id).Execute()
	ok("GetAccountInfo", response, err)
	return account.Id
}

func (w walk) users(accountID string) {
	groups, response, err := w.client.AccountAPI.ListAccountSkGroup(w.ctx, accountID).Execute()
	ok("ListAccountSkGroup", response, err)
	settings := syncp.NatsUserJwtSettings{Tags: []string{"conformance"}}
	settings.Pub = &syncp.Permission{Allow: []string{"conformance.>"}}
	settings.BearerToken = syncp.Ptr(false)
	settings.AllowedConnectionTypes = []string{"STANDARD", "WEBSOCKET"}
	user, response, err := w.client.AccountAPI.CreateUser(w.ctx, accountID).
		NatsUserCreateRequest(syncp.NatsUserCreateRequest{
			Name: "walker", SkGroupId: groups.Items[0].Id, JwtSettings: &settings,
		}).Execute()
	ok("CreateUser", response, err)
	_, response, err = w.client.AccountAPI.ListUsers(w.ctx, accountID).Execute()
	ok("ListUsers", response, err)
	_, response, err = w.client.NatsUserAPI.GetNatsUser(w.ctx, user.Id).Execute()
	ok("GetNatsUser", response, err)
	creds, response, err := w.client.NatsUserAPI.DownloadNatsUserCreds(w.ctx, user.Id).Execute()
	ok("DownloadNatsUserCreds", response, err)
	if !strings.Contains(creds, "BEGIN NATS USER JWT") {
		fail("DownloadNatsUserCreds", fmt.Errorf("not a creds file: %.40q", creds))
	}
	_, response, err = w.client.NatsUserAPI.DownloadNatsUserHttpGwToken(w.ctx, user.Id).Execute()
	ok("DownloadNatsUserHttpGwToken", response, err)
	response, err = w.client.NatsUserAPI.DeleteNatsUser(w.ctx, user.Id).Execute()
	ok("DeleteNatsUser", response, err)
}

func (w walk) buckets(accountID string) {
	bucket, response, err := w.client.AccountAPI.CreateKvBucket(w.ctx, accountID).
		JSKVBucketConfig(syncp.JSKVBucketConfig{
			Bucket:      "walked",
			Storage:     syncp.STORAGETYPE_FILE,
			MaxBytes:    syncp.Ptr(int64(1024 * 1024)),
			MaxAge:      syncp.Ptr(int64(3_600_000_000_000)),
			Compression: syncp.Ptr(true),
			History:     syncp.Ptr(int64(3)),
		}).Execute()
	ok("CreateKvBucket", response, err)
	_, response, err = w.client.AccountAPI.ListKvBuckets(w.ctx, accountID).Execute()
	ok("ListKvBuckets", response, err)
	got, response, err := w.client.KvBucketAPI.GetKvBucket(w.ctx, bucket.Id).Execute()
	ok("GetKvBucket", response, err)
	if got.Config.MaxAge == nil || *got.Config.MaxAge != 3_600_000_000_000 {
		fail("GetKvBucket", fmt.Errorf("max_age not applied: %v", got.Config.MaxAge))
	}
	response, err = w.client.KvBucketAPI.DeleteKvBucket(w.ctx, bucket.Id).Execute()
	ok("DeleteKvBucket", response, err)
}

func streamConfig(name string, compression *syncp.S2Compression) syncp.JSStreamConfigRequest {
	config := syncp.JSStreamConfigRequest{Subjects: []string{name + ".>"}}
	config.Name = name
	config.Retention = syncp.RETENTIONPOLICY_LIMITS
	config.Storage = syncp.STORAGETYPE_FILE
	config.Discard = syncp.DISCARDPOLICY_OLD
	config.MaxBytes = 1024 * 1024
	config.MaxMsgs, config.MaxMsgsPerSubject, config.MaxConsumers = -1, -1, -1
	config.NumReplicas = 1
	config.Compression = compression
	return config
}

func (w walk) streams(accountID string) {
	s2 := syncp.S2COMPRESSION_S2
	stream, response, err := w.client.AccountAPI.CreateStream(w.ctx, accountID).
		JSStreamConfigRequest(streamConfig("walked", &s2)).Execute()
	ok("CreateStream", response, err)
	_, response, err = w.client.AccountAPI.ListStreams(w.ctx, accountID).Execute()
	ok("ListStreams", response, err)
	_, response, err = w.client.StreamAPI.GetStreamInfo(w.ctx, stream.Id).Execute()
	ok("GetStreamInfo", response, err)
	response, err = w.client.StreamAPI.DeleteStream(w.ctx, stream.Id).Execute()
	ok("DeleteStream", response, err)
}

// knownLimit: a stream without compression is valid (the document allows "none"); the SDK
// cannot decode the answer. Recorded, then the stream is deleted by the id in the raw answer.
func (w walk) knownLimit(accountID string) {
	_, response, err := w.client.AccountAPI.CreateStream(w.ctx, accountID).
		JSStreamConfigRequest(streamConfig("uncompressed", nil)).Execute()
	if err == nil {
		fmt.Println("ok CreateStream uncompressed: the SDK decoded it (its limit is gone)")
		return
	}
	var apiErr *syncp.GenericOpenAPIError
	if response == nil || response.StatusCode != http.StatusCreated ||
		!strings.Contains(err.Error(), sdkCompressionLimit) || !errors.As(err, &apiErr) {
		fail("CreateStream uncompressed", err)
	}
	fmt.Printf("limit CreateStream uncompressed: %v\n", err)
	var made struct {
		ID string `json:"id"`
	}
	if decodeErr := json.Unmarshal(apiErr.Body(), &made); decodeErr != nil || made.ID == "" {
		fail("CreateStream uncompressed", fmt.Errorf("no id in the answer: %v", decodeErr))
	}
	response, err = w.client.StreamAPI.DeleteStream(w.ctx, made.ID).Execute()
	ok("DeleteStream uncompressed", response, err)
}
