// Package s3blob is a blob.Store over an S3 bucket and key prefix, using
// aws-sdk-go-v2. It is the only package in sluice that imports the AWS SDK.
//
// PutIfAbsent is a PutObject with If-None-Match: * (S3 conditional writes,
// also implemented by MinIO, R2 and versitygw): the server refuses with 412
// if the key exists, atomically, so Delta commits need no DynamoDB lock.
// Some S3-compatible services (GCS's S3 interoperability endpoint) silently
// ignore the header; call CheckConditionalWrites at startup to refuse such a
// backend instead of corrupting a table.
//
// Retries: the SDK retries Get, Put, List and Delete on transient errors.
// PutIfAbsent runs its own bounded retry loop so that it knows when an
// earlier attempt may have written the object although the caller saw an
// error (a 5xx or a dropped connection after the request was sent). If a
// later attempt then gets 412, the stored object is read back: when it is
// byte-identical to data the call reports success, otherwise ErrExist. A 409
// ConditionalRequestConflict (a concurrent conditional write in flight) is
// retried with backoff and resolved by the next attempt's 412 or success.
// Errors that remain transient after the retries satisfy blob.IsTransient.
//
// Credentials are static (Options) or the SDK's default chain (environment,
// shared config and credentials files, SSO, web identity, ECS and EC2
// roles). Error texts never contain the static secret key or session token:
// they are redacted if a server ever echoes them.
package s3blob
