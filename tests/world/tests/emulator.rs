//! The Chime SDK Media Pipelines emulator, driven through the real SDK client
//! (and through raw HTTP where the SDK would refuse to send the request);
//! Chime SDK Meetings' GetMeeting through the real Meetings SDK.

use std::time::{Duration, Instant};

use aws_sdk_chimesdkmediapipelines::Client;
use aws_sdk_chimesdkmediapipelines::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_chimesdkmediapipelines::operation::create_media_pipeline_kinesis_video_stream_pool::CreateMediaPipelineKinesisVideoStreamPoolError as CreatePoolError;
use aws_sdk_chimesdkmediapipelines::operation::create_media_capture_pipeline::CreateMediaCapturePipelineError as CreateCaptureError;
use aws_sdk_chimesdkmediapipelines::operation::create_media_capture_pipeline::builders::CreateMediaCapturePipelineFluentBuilder as CaptureBuilder;
use aws_sdk_chimesdkmediapipelines::operation::create_media_concatenation_pipeline::CreateMediaConcatenationPipelineError as CreateConcatenationError;
use aws_sdk_chimesdkmediapipelines::operation::create_media_concatenation_pipeline::builders::CreateMediaConcatenationPipelineFluentBuilder as ConcatenationBuilder;
use aws_sdk_chimesdkmediapipelines::operation::create_media_stream_pipeline::CreateMediaStreamPipelineError as CreateError;
use aws_sdk_chimesdkmediapipelines::operation::create_media_stream_pipeline::builders::CreateMediaStreamPipelineFluentBuilder;
use aws_sdk_chimesdkmediapipelines::operation::delete_media_pipeline::DeleteMediaPipelineError;
use aws_sdk_chimesdkmediapipelines::operation::delete_media_pipeline_kinesis_video_stream_pool::DeleteMediaPipelineKinesisVideoStreamPoolError as DeletePoolError;
use aws_sdk_chimesdkmediapipelines::operation::get_media_pipeline::GetMediaPipelineError;
use aws_sdk_chimesdkmediapipelines::operation::get_media_pipeline_kinesis_video_stream_pool::GetMediaPipelineKinesisVideoStreamPoolError as GetPoolError;
use aws_sdk_chimesdkmediapipelines::operation::list_media_pipelines::ListMediaPipelinesError;
use aws_sdk_chimesdkmediapipelines::operation::list_tags_for_resource::ListTagsForResourceError;
use aws_sdk_chimesdkmediapipelines::types::{
    ArtifactsConcatenationConfiguration, ArtifactsConcatenationState, ArtifactsConfiguration,
    ArtifactsState, AudioArtifactsConcatenationState, AudioArtifactsConfiguration,
    AudioConcatenationConfiguration, AudioMuxType, ChimeSdkMeetingConcatenationConfiguration,
    ChimeSdkMeetingConfiguration, CompositedVideoArtifactsConfiguration,
    CompositedVideoConcatenationConfiguration, ConcatenationSink, ConcatenationSinkType,
    ConcatenationSource, ConcatenationSourceType, ContentArtifactsConfiguration,
    ContentConcatenationConfiguration, ContentShareLayoutOption,
    DataChannelConcatenationConfiguration, ErrorCode, GridViewConfiguration,
    HorizontalLayoutConfiguration, KinesisVideoStreamConfiguration,
    KinesisVideoStreamConfigurationUpdate, KinesisVideoStreamPoolStatus,
    MediaCapturePipelineSourceConfiguration, MediaPipelineSinkType, MediaPipelineSourceType,
    MediaPipelineStatus, MediaStreamPipelineSinkType, MediaStreamSink, MediaStreamSource,
    MediaStreamType, MeetingEventsConcatenationConfiguration, S3BucketSinkConfiguration,
    SseAwsKeyManagementParams, Tag, TranscriptionMessagesConcatenationConfiguration,
    VideoArtifactsConfiguration, VideoConcatenationConfiguration,
};
use aws_sdk_chimesdkmediapipelines::config::http::HttpResponse;
use aws_sdk_chimesdkmediapipelines::operation::update_media_pipeline_kinesis_video_stream_pool::UpdateMediaPipelineKinesisVideoStreamPoolError as UpdatePoolError;
use aws_sdk_chimesdkmediapipelines::operation::update_media_pipeline_kinesis_video_stream_pool::builders::UpdateMediaPipelineKinesisVideoStreamPoolFluentBuilder as UpdatePoolBuilder;
use aws_sdk_chimesdkmediapipelines::primitives::DateTime;
use aws_sdk_chimesdkmeetings::operation::get_meeting::GetMeetingError;
use serde_json::{Value, json};
use testworld::emulator::{
    Emulator, EmulatorConfig, Fault, FaultKind, Trigger, meetings_client, sdk_client,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACCOUNT: &str = "111122223333";

fn meeting(n: u32) -> String {
    format!("arn:aws:chime:us-east-1:{ACCOUNT}:meeting/5b2a0d3e-0000-4000-8000-{n:012}")
}

fn pool_arn(region: &str, name: &str) -> String {
    format!("arn:aws:chime:{region}:{ACCOUNT}:media-pipeline-kinesis-video-stream-pool/{name}")
}

fn source(arn: &str) -> MediaStreamSource {
    MediaStreamSource::builder()
        .source_type(MediaPipelineSourceType::ChimeSdkMeeting)
        .source_arn(arn)
        .build()
        .unwrap()
}

fn sink(arn: &str, capacity: i32) -> MediaStreamSink {
    MediaStreamSink::builder()
        .sink_arn(arn)
        .sink_type(MediaStreamPipelineSinkType::KinesisVideoStreamPool)
        .reserved_stream_capacity(capacity)
        .media_stream_type(MediaStreamType::MixedAudio)
        .build()
        .unwrap()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

fn create(client: &Client, meeting_arn: &str) -> CreateMediaStreamPipelineFluentBuilder {
    client
        .create_media_stream_pipeline()
        .sources(source(meeting_arn))
        .sinks(sink(&pool_arn("us-east-1", "pool"), 1))
}

async fn start() -> (Emulator, Client) {
    start_with(EmulatorConfig::default()).await
}

async fn start_with(config: EmulatorConfig) -> (Emulator, Client) {
    let emulator = Emulator::start(config).await.unwrap();
    let client = sdk_client(&emulator.endpoint_url(), "us-east-1").await;
    (emulator, client)
}

async fn create_id(client: &Client, meeting_arn: &str) -> String {
    let out = create(client, meeting_arn).send().await.unwrap();
    out.media_stream_pipeline()
        .unwrap()
        .media_pipeline_id()
        .unwrap()
        .to_owned()
}

/// The message of a `BadRequestException` from CreateMediaStreamPipeline.
async fn create_rejected(builder: CreateMediaStreamPipelineFluentBuilder) -> String {
    match builder.send().await.map_err(SdkError::into_service_error) {
        Err(CreateError::BadRequestException(e)) => {
            assert_eq!(e.code(), Some(&ErrorCode::BadRequest));
            assert!(e.request_id().is_some());
            e.message().unwrap().to_owned()
        }
        other => panic!("expected BadRequestException, got {other:?}"),
    }
}

struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

const FAKE_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261125/us-east-1/chime/aws4_request, \
                         SignedHeaders=host;x-amz-date, Signature=0000";

/// One HTTP/1.1 exchange over a fresh connection, to check the wire itself.
async fn raw(
    emulator: &Emulator,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> RawResponse {
    let mut stream = tokio::net::TcpStream::connect(emulator.local_addr())
        .await
        .unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{auth}\r\n{body}",
        emulator.local_addr(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn raw_sink() -> Value {
    json!({"SinkArn": pool_arn("us-east-1", "pool"), "SinkType": "KinesisVideoStreamPool",
           "ReservedStreamCapacity": 1, "MediaStreamType": "MixedAudio"})
}

#[tokio::test]
async fn pipeline_round_trip() {
    let (emulator, client) = start().await;
    let created = create(&client, &meeting(1))
        .tags(tag("team", "a"))
        .send()
        .await
        .unwrap();
    let pipeline = created.media_stream_pipeline().unwrap();
    assert_eq!(pipeline.status(), Some(&MediaPipelineStatus::Initializing));
    let id = pipeline.media_pipeline_id().unwrap().to_owned();
    let arn = pipeline.media_pipeline_arn().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    assert_eq!(id, id.to_lowercase());
    assert_eq!(
        arn,
        format!("arn:aws:chime:us-east-1:{ACCOUNT}:media-pipeline/{id}")
    );
    assert_eq!(pipeline.sinks()[0].reserved_stream_capacity(), 1);
    assert!(pipeline.created_timestamp().is_some());

    let got = client
        .get_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap();
    let got = got
        .media_pipeline()
        .unwrap()
        .media_stream_pipeline()
        .unwrap();
    assert_eq!(got.status(), Some(&MediaPipelineStatus::InProgress));
    assert_eq!(got.sources()[0].source_arn(), meeting(1));

    let listed = client.list_media_pipelines().send().await.unwrap();
    assert_eq!(listed.media_pipelines().len(), 1);
    assert_eq!(
        listed.media_pipelines()[0].media_pipeline_arn(),
        Some(arn.as_str())
    );
    assert!(listed.next_token().is_none());

    // Tags from the create are stored; tagging merges by key.
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags(tag("team", "b"))
        .tags(tag("env", "test"))
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("team", "b"), ("env", "test")]);
    client
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);

    client
        .delete_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap();
    let err = client
        .get_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        GetMediaPipelineError::NotFoundException(_)
    ));
    let err = client
        .delete_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        DeleteMediaPipelineError::NotFoundException(_)
    ));
    let err = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        ListTagsForResourceError::NotFoundException(_)
    ));
    assert!(
        client
            .list_media_pipelines()
            .send()
            .await
            .unwrap()
            .media_pipelines()
            .is_empty()
    );

    let records = emulator.pipelines();
    assert_eq!(records.len(), 1);
    assert!(records[0].deleted);
    assert_eq!(records[0].source_arns, [meeting(1)]);
    assert_eq!(records[0].sink_arns, [pool_arn("us-east-1", "pool")]);
    // The SDK fills in an idempotency token when the caller gives none.
    assert_eq!(
        records[0].client_request_token.as_deref().map(str::len),
        Some(36)
    );
    assert_eq!(emulator.call_count("CreateMediaStreamPipeline"), 1);
    assert_eq!(emulator.call_count("GetMediaPipeline"), 2);
}

#[tokio::test]
async fn list_paginates() {
    let (_emulator, client) = start().await;
    for n in 0..3 {
        create_id(&client, &meeting(n)).await;
    }
    let first = client
        .list_media_pipelines()
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.media_pipelines().len(), 2);
    let token = first.next_token().unwrap();
    let second = client
        .list_media_pipelines()
        .max_results(2)
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.media_pipelines().len(), 1);
    assert!(second.next_token().is_none());
    for max in [0, 101] {
        let err = client
            .list_media_pipelines()
            .max_results(max)
            .send()
            .await
            .unwrap_err();
        match err.into_service_error() {
            ListMediaPipelinesError::BadRequestException(e) => {
                assert_eq!(e.message(), Some("MaxResults must be between 1 and 100"));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn initializing_delay_is_applied_lazily() {
    let (emulator, client) = start_with(EmulatorConfig {
        initializing_delay: Duration::from_millis(120),
        ..EmulatorConfig::default()
    })
    .await;
    let id = create_id(&client, &meeting(1)).await;
    let status = |out: aws_sdk_chimesdkmediapipelines::operation::get_media_pipeline::GetMediaPipelineOutput| {
        out.media_pipeline().unwrap().media_stream_pipeline().unwrap().status().cloned()
    };
    let got = client
        .get_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(status(got), Some(MediaPipelineStatus::Initializing));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let got = client
        .get_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(status(got), Some(MediaPipelineStatus::InProgress));

    emulator.set_initializing_delay(Duration::from_secs(60));
    let id = create_id(&client, &meeting(2)).await;
    let got = client
        .get_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(status(got), Some(MediaPipelineStatus::Initializing));
}

#[tokio::test]
async fn validation_names_the_member() {
    let (emulator, client) = start().await;
    let pool = pool_arn("us-east-1", "pool");
    let cases: Vec<(CreateMediaStreamPipelineFluentBuilder, &str)> = vec![
        (
            client
                .create_media_stream_pipeline()
                .sources(
                    MediaStreamSource::builder()
                        .source_type(MediaPipelineSourceType::from("Zoom"))
                        .source_arn(meeting(1))
                        .build()
                        .unwrap(),
                )
                .sinks(sink(&pool, 1)),
            "Sources[0].SourceType must be one of: ChimeSdkMeeting",
        ),
        (
            client
                .create_media_stream_pipeline()
                .set_sources(Some(vec![]))
                .sinks(sink(&pool, 1)),
            "Sources must contain at least 1 item(s)",
        ),
        (
            create(&client, &meeting(1))
                .sinks(sink(&pool, 1))
                .sinks(sink(&pool, 1)),
            "Sinks must contain between 1 and 2 items",
        ),
        (
            create(&client, &meeting(1)).sinks(sink(&pool, 11)),
            "Sinks[1].ReservedStreamCapacity must be between 1 and 10",
        ),
        (
            client
                .create_media_stream_pipeline()
                .sources(source(&meeting(1)))
                .sinks(sink(&pool, 0)),
            "Sinks[0].ReservedStreamCapacity must be between 1 and 10",
        ),
        (
            client
                .create_media_stream_pipeline()
                .sources(source("not-an-arn"))
                .sinks(sink(&pool, 1)),
            "Sources[0].SourceArn must match the pattern ^arn[\\/\\:\\-\\_\\.a-zA-Z0-9]+$",
        ),
        (
            client
                .create_media_stream_pipeline()
                .sources(source(&format!("arn:{}", "a".repeat(1021))))
                .sinks(sink(&pool, 1)),
            "Sources[0].SourceArn must be between 1 and 1024 characters long",
        ),
        (
            create(&client, &meeting(1)).client_request_token("x"),
            "ClientRequestToken must be between 2 and 64 characters long",
        ),
        (
            create(&client, &meeting(1)).client_request_token("no spaces"),
            "ClientRequestToken must match the pattern ^[-_a-zA-Z0-9]*$",
        ),
        (
            create(&client, &meeting(1)).tags(tag(&"k".repeat(129), "v")),
            "Tags[0].Key must be between 1 and 128 characters long",
        ),
        (
            create(&client, &meeting(1))
                .tags(tag("k", ""))
                .tags(tag("k2", &"v".repeat(257))),
            "Tags[1].Value must be between 0 and 256 characters long",
        ),
        (
            create(&client, &meeting(1))
                .set_tags(Some((0..201).map(|i| tag(&format!("k{i}"), "v")).collect())),
            "Tags must contain between 1 and 200 items",
        ),
    ];
    for (builder, expected) in cases {
        assert_eq!(create_rejected(builder).await, expected);
    }
    assert!(emulator.pipelines().is_empty());

    let err = client
        .get_media_pipeline()
        .media_pipeline_id("not-a-guid")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        GetMediaPipelineError::BadRequestException(_)
    ));

    let err = client
        .untag_resource()
        .resource_arn("arn:x")
        .set_tag_keys(Some(vec![]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().message(),
        Some("TagKeys must contain between 1 and 200 items")
    );
    let err = client
        .tag_resource()
        .resource_arn("bad")
        .tags(tag("k", "v"))
        .send()
        .await
        .unwrap_err();
    assert!(
        err.into_service_error()
            .message()
            .unwrap()
            .starts_with("ResourceARN must match the pattern")
    );

    let pool_cases = [
        (
            "bad/name",
            "us-east-1",
            1,
            "PoolName must match the pattern ^[0-9a-zA-Z._-]+$",
        ),
        (
            "ok",
            "useast1",
            1,
            "StreamConfiguration.Region must match the pattern ^([a-z]+-){2,}\\d+$",
        ),
        (
            "ok",
            "us-east-1",
            -1,
            "StreamConfiguration.DataRetentionInHours must be at least 0",
        ),
    ];
    for (name, region, hours, expected) in pool_cases {
        let config = KinesisVideoStreamConfiguration::builder()
            .region(region)
            .data_retention_in_hours(hours)
            .build()
            .unwrap();
        let err = client
            .create_media_pipeline_kinesis_video_stream_pool()
            .pool_name(name)
            .stream_configuration(config)
            .send()
            .await
            .unwrap_err();
        match err.into_service_error() {
            CreatePoolError::BadRequestException(e) => assert_eq!(e.message(), Some(expected)),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn raw_wire_checks() {
    let (emulator, _client) = start().await;
    let auth = Some(FAKE_AUTH);

    // Required members: the SDK would refuse to send these.
    let body = json!({"Sinks": [raw_sink()]}).to_string();
    let response = raw(
        &emulator,
        "POST",
        "/sdk-media-stream-pipelines",
        auth,
        &body,
    )
    .await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("BadRequestException")
    );
    assert_eq!(response.header("content-type"), Some("application/json"));
    let request_id = response.header("x-amzn-RequestId").unwrap().to_owned();
    let error = response.json();
    assert_eq!(error["Code"], "BadRequest");
    assert_eq!(error["Message"], "Sources is required");
    assert_eq!(error["RequestId"], request_id.as_str());

    let mut sink = raw_sink();
    sink.as_object_mut()
        .unwrap()
        .remove("ReservedStreamCapacity");
    let body = json!({"Sources": [{"SourceType": "ChimeSdkMeeting", "SourceArn": meeting(1)}], "Sinks": [sink]});
    let response = raw(
        &emulator,
        "POST",
        "/sdk-media-stream-pipelines",
        auth,
        &body.to_string(),
    )
    .await;
    assert_eq!(
        response.json()["Message"],
        "Sinks[0].ReservedStreamCapacity is required"
    );

    let response = raw(
        &emulator,
        "POST",
        "/tags?operation=tag-resource",
        auth,
        r#"{"ResourceARN": "arn:a"}"#,
    )
    .await;
    assert_eq!(response.json()["Message"], "Tags is required");

    let response = raw(
        &emulator,
        "POST",
        "/sdk-media-stream-pipelines",
        auth,
        "{not json",
    )
    .await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("BadRequestException")
    );

    // A successful create on the wire: 201 and ISO-8601 timestamps with millis.
    let body = json!({"Sources": [{"SourceType": "ChimeSdkMeeting", "SourceArn": meeting(1)}], "Sinks": [raw_sink()]});
    let response = raw(
        &emulator,
        "POST",
        "/sdk-media-stream-pipelines",
        auth,
        &body.to_string(),
    )
    .await;
    assert_eq!(response.status, 201);
    let created = response.json()["MediaStreamPipeline"]["CreatedTimestamp"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            .unwrap()
            .is_match(&created),
        "{created}"
    );

    // Unsigned requests are refused.
    let response = raw(&emulator, "GET", "/sdk-media-pipelines", None, "").await;
    assert_eq!(response.status, 403);
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("ForbiddenException")
    );
    assert_eq!(response.json()["Code"], "Forbidden");
    let response = raw(
        &emulator,
        "GET",
        "/sdk-media-pipelines",
        Some("AWS4-HMAC-SHA256 Signature=1"),
        "",
    )
    .await;
    assert_eq!(response.status, 403);

    let calls = emulator.calls();
    let last = calls.last().unwrap();
    assert_eq!(
        (last.operation.as_str(), last.region.as_deref(), last.status),
        ("ListMediaPipelines", None, Some(403))
    );
    assert_eq!(calls[0].region.as_deref(), Some("us-east-1"));
}

#[tokio::test]
async fn idempotent_creates() {
    let (emulator, client) = start().await;
    let first = create(&client, &meeting(1))
        .client_request_token("token-1")
        .send()
        .await
        .unwrap();
    let second = create(&client, &meeting(1))
        .client_request_token("token-1")
        .send()
        .await
        .unwrap();
    let id = first
        .media_stream_pipeline()
        .unwrap()
        .media_pipeline_id()
        .unwrap();
    assert_eq!(
        second.media_stream_pipeline().unwrap().media_pipeline_id(),
        Some(id)
    );
    assert_eq!(emulator.pipelines().len(), 1);

    let message =
        create_rejected(create(&client, &meeting(2)).client_request_token("token-1")).await;
    assert!(message.contains("different parameters"), "{message}");

    // A replay after deletion still answers with the same pipeline.
    client
        .delete_media_pipeline()
        .media_pipeline_id(id)
        .send()
        .await
        .unwrap();
    let third = create(&client, &meeting(1))
        .client_request_token("token-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        third.media_stream_pipeline().unwrap().media_pipeline_id(),
        Some(id)
    );
    assert_eq!(emulator.pipelines().len(), 1);

    // Tokens are per region.
    let west = sdk_client(&emulator.endpoint_url(), "us-west-2").await;
    let other = create(&west, &meeting(1))
        .client_request_token("token-1")
        .send()
        .await
        .unwrap();
    assert_ne!(
        other.media_stream_pipeline().unwrap().media_pipeline_id(),
        Some(id)
    );
    assert_eq!(emulator.pipelines().len(), 2);
}

#[tokio::test]
async fn active_pipeline_limit_per_region() {
    let (emulator, client) = start().await;
    emulator.set_region_limit("us-east-1", 2);
    let first = create(&client, &meeting(1))
        .client_request_token("t1")
        .send()
        .await
        .unwrap();
    let a = first
        .media_stream_pipeline()
        .unwrap()
        .media_pipeline_id()
        .unwrap()
        .to_owned();
    create_id(&client, &meeting(2)).await;
    match create(&client, &meeting(3))
        .send()
        .await
        .map_err(SdkError::into_service_error)
    {
        Err(CreateError::ResourceLimitExceededException(e)) => {
            assert_eq!(e.code(), Some(&ErrorCode::ResourceLimitExceeded));
        }
        other => panic!("{other:?}"),
    }
    // An idempotent replay is not a new pipeline.
    let replayed = create(&client, &meeting(1))
        .client_request_token("t1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        replayed
            .media_stream_pipeline()
            .unwrap()
            .media_pipeline_id(),
        Some(a.as_str())
    );
    assert_eq!(emulator.pipelines().len(), 2);

    // Other regions have their own limits: 10 by default outside us-east-1.
    let west = sdk_client(&emulator.endpoint_url(), "us-west-2").await;
    for n in 0..10 {
        create_id(&west, &meeting(n)).await;
    }
    assert!(create(&west, &meeting(11)).send().await.is_err());

    client
        .delete_media_pipeline()
        .media_pipeline_id(&a)
        .send()
        .await
        .unwrap();
    create_id(&client, &meeting(40)).await;
    // Stopped pipelines no longer count.
    assert_eq!(emulator.end_meeting(&meeting(40)), 1);
    create_id(&client, &meeting(50)).await;
}

#[tokio::test]
async fn not_found_and_ended_meetings() {
    // Stopping at once: this test is about which pipelines stop, not how.
    let (emulator, client) = start_with(EmulatorConfig {
        stopping_delay: Duration::ZERO,
        ..EmulatorConfig::default()
    })
    .await;
    let err = client
        .get_media_pipeline()
        .media_pipeline_id("0b7c8a4e-1d2f-4c3b-9a8e-7f6d5c4b3a21")
        .send()
        .await
        .unwrap_err();
    match err.into_service_error() {
        GetMediaPipelineError::NotFoundException(e) => {
            assert_eq!(e.code(), Some(&ErrorCode::NotFound))
        }
        other => panic!("{other:?}"),
    }

    emulator.mark_meeting_missing(&meeting(9));
    match create(&client, &meeting(9))
        .send()
        .await
        .map_err(SdkError::into_service_error)
    {
        Err(CreateError::NotFoundException(e)) => {
            assert!(e.message().unwrap().contains(&meeting(9)))
        }
        other => panic!("{other:?}"),
    }

    let a = create_id(&client, &meeting(1)).await;
    let b = create_id(&client, &meeting(1)).await;
    let c = create_id(&client, &meeting(2)).await;
    client
        .delete_media_pipeline()
        .media_pipeline_id(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(emulator.end_meeting(&meeting(1)), 1);
    let status = |id: String| {
        let client = client.clone();
        async move {
            let out = client
                .get_media_pipeline()
                .media_pipeline_id(id)
                .send()
                .await
                .unwrap();
            out.media_pipeline()
                .unwrap()
                .media_stream_pipeline()
                .unwrap()
                .status()
                .cloned()
        }
    };
    assert_eq!(status(a).await, Some(MediaPipelineStatus::Stopped));
    assert_eq!(status(c).await, Some(MediaPipelineStatus::InProgress));
    let statuses: Vec<(String, bool)> = emulator
        .pipelines()
        .into_iter()
        .map(|p| (p.status, p.deleted))
        .collect();
    assert_eq!(statuses[0], ("Stopped".to_owned(), false));
    assert!(statuses[1].1);
}

/// Chime SDK Meetings' GetMeeting, on the same listener, through the real
/// Meetings SDK: any meeting is in progress until it is ended (its
/// pipelines stop) or marked missing, then NotFound; a malformed ID is a
/// BadRequest naming the member; faults come in the Meetings model's shapes.
#[tokio::test]
async fn get_meeting_tells_an_ended_meeting() {
    let (emulator, client) = start().await;
    let meetings = meetings_client(&emulator.endpoint_url(), "us-east-1").await;
    let id = |n: u32| meeting(n).rsplit('/').next().unwrap().to_owned();
    let get = |id: String| meetings.get_meeting().meeting_id(id).send();

    let live = get(id(1).to_ascii_uppercase()).await.unwrap();
    let m = live.meeting().unwrap();
    assert_eq!(
        m.meeting_id(),
        Some(id(1).as_str()),
        "answered in lower case"
    );
    assert_eq!(m.meeting_arn(), Some(meeting(1).as_str()));
    assert_eq!(m.media_region(), Some("us-east-1"));
    let placement = m.media_placement().unwrap();
    assert!(placement.audio_host_url().is_some() && placement.signaling_url().is_some());

    create_id(&client, &meeting(1)).await;
    assert_eq!(emulator.end_meeting(&meeting(1)), 1);
    emulator.mark_meeting_missing(&meeting(2));
    for gone in [id(1), id(1).to_ascii_uppercase(), id(2)] {
        let err = get(gone.clone()).await.unwrap_err().into_service_error();
        let GetMeetingError::NotFoundException(e) = &err else {
            panic!("{gone}: {err:?}");
        };
        assert!(e.message().unwrap().contains(&gone), "{e:?}");
    }
    assert!(get(id(3)).await.unwrap().meeting().is_some());

    let err = get("m-end".into()).await.unwrap_err().into_service_error();
    let GetMeetingError::BadRequestException(e) = &err else {
        panic!("{err:?}");
    };
    assert!(e.message().unwrap().contains("MeetingId"), "{e:?}");

    for (kind, shape) in [
        (FaultKind::Throttle, "ThrottlingException"),
        (FaultKind::Unauthorized, "UnauthorizedException"),
        (FaultKind::Forbidden, "ForbiddenException"),
        (FaultKind::Unavailable, "ServiceUnavailableException"),
        (FaultKind::Failure, "ServiceFailureException"),
    ] {
        emulator.inject(Fault::new(kind, Trigger::Next(1)).on("GetMeeting"));
        let typed = match get(id(3)).await.unwrap_err().into_service_error() {
            GetMeetingError::ThrottlingException(_) => "ThrottlingException",
            GetMeetingError::UnauthorizedException(_) => "UnauthorizedException",
            GetMeetingError::ForbiddenException(_) => "ForbiddenException",
            GetMeetingError::ServiceUnavailableException(_) => "ServiceUnavailableException",
            GetMeetingError::ServiceFailureException(_) => "ServiceFailureException",
            other => panic!("{shape}: {other:?}"),
        };
        assert_eq!(typed, shape);
    }

    let asked: Vec<(Option<String>, Option<String>)> = emulator
        .calls()
        .into_iter()
        .filter(|c| c.operation == "GetMeeting")
        .map(|c| (c.region, c.subject))
        .collect();
    assert_eq!(asked.len(), 11);
    assert!(asked.iter().all(|(r, _)| r.as_deref() == Some("us-east-1")));
    assert_eq!(asked[0].1, Some(id(1).to_ascii_uppercase()));
}

#[tokio::test]
async fn injected_faults_reach_the_sdk() {
    let (emulator, client) = start().await;
    let list = || client.list_media_pipelines().send();

    emulator.inject(Fault::new(FaultKind::Throttle, Trigger::Next(2)).on("ListMediaPipelines"));
    for _ in 0..2 {
        let err = list().await.unwrap_err().into_service_error();
        assert!(
            matches!(err, ListMediaPipelinesError::ThrottledClientException(_)),
            "{err:?}"
        );
    }
    list().await.unwrap();

    // A fault on another operation leaves this one alone.
    emulator.inject(Fault::new(FaultKind::Failure, Trigger::Next(1)).on("GetMediaPipeline"));
    list().await.unwrap();
    emulator.clear_faults();

    emulator.inject(Fault::new(
        FaultKind::Unavailable,
        Trigger::Probability(1.0),
    ));
    for _ in 0..2 {
        let err = list().await.unwrap_err().into_service_error();
        assert!(
            matches!(err, ListMediaPipelinesError::ServiceUnavailableException(_)),
            "{err:?}"
        );
    }
    emulator.clear_faults();

    emulator.inject(Fault::new(FaultKind::Failure, Trigger::Next(1)));
    match create(&client, &meeting(1))
        .send()
        .await
        .map_err(SdkError::into_service_error)
    {
        Err(CreateError::ServiceFailureException(e)) => {
            assert_eq!(e.code(), Some(&ErrorCode::ServiceFailure))
        }
        other => panic!("{other:?}"),
    }
    assert!(emulator.pipelines().is_empty());

    emulator.inject(Fault::new(FaultKind::Forbidden, Trigger::Next(1)));
    let err = list().await.unwrap_err().into_service_error();
    assert!(
        matches!(err, ListMediaPipelinesError::ForbiddenException(_)),
        "{err:?}"
    );
    emulator.inject(Fault::new(FaultKind::Unauthorized, Trigger::Next(1)));
    let err = list().await.unwrap_err().into_service_error();
    assert!(
        matches!(err, ListMediaPipelinesError::UnauthorizedClientException(_)),
        "{err:?}"
    );

    emulator.inject(Fault::new(
        FaultKind::Latency(Duration::from_millis(150)),
        Trigger::Next(1),
    ));
    let began = Instant::now();
    list().await.unwrap();
    assert!(began.elapsed() >= Duration::from_millis(150));

    emulator.inject(
        Fault::new(FaultKind::Drop, Trigger::Probability(1.0)).on("CreateMediaStreamPipeline"),
    );
    let err = create(&client, &meeting(1)).send().await.unwrap_err();
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    assert!(emulator.pipelines().is_empty());
    emulator.clear_faults();
    create_id(&client, &meeting(1)).await;

    let calls = emulator.calls();
    let statuses: Vec<Option<u16>> = calls.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [
            Some(429),
            Some(429),
            Some(200),
            Some(200),
            Some(503),
            Some(503),
            Some(500),
            Some(403),
            Some(401),
            Some(200),
            None,
            Some(201)
        ]
    );
    assert!(calls.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert!(calls.last().unwrap().at_ms <= emulator.elapsed_ms());
}

#[tokio::test]
async fn pool_lifecycle() {
    let (emulator, client) = start().await;
    emulator.set_initializing_delay(Duration::from_millis(100));
    // Gone at once: the DELETING phase has its own test.
    emulator.set_pool_deleting_delay(Duration::ZERO);
    let config = KinesisVideoStreamConfiguration::builder()
        .region("us-east-1")
        .data_retention_in_hours(24)
        .build()
        .unwrap();
    let create_pool = |name: &str| {
        client
            .create_media_pipeline_kinesis_video_stream_pool()
            .pool_name(name)
            .stream_configuration(config.clone())
    };
    let created = create_pool("pool")
        .client_request_token("pool-token")
        .tags(tag("a", "b"))
        .send()
        .await
        .unwrap();
    let pool = created.kinesis_video_stream_pool_configuration().unwrap();
    assert_eq!(
        pool.pool_status(),
        Some(&KinesisVideoStreamPoolStatus::Creating)
    );
    assert_eq!(pool.pool_size(), Some(0));
    assert_eq!(
        pool.pool_arn(),
        Some(pool_arn("us-east-1", "pool").as_str())
    );
    let pool_id = pool.pool_id().unwrap().to_owned();

    // Replays answer with the same pool; another token for the same name conflicts.
    let replay = create_pool("pool")
        .client_request_token("pool-token")
        .tags(tag("a", "b"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        replay
            .kinesis_video_stream_pool_configuration()
            .unwrap()
            .pool_id(),
        Some(pool_id.as_str())
    );
    let err = create_pool("pool")
        .client_request_token("other")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        CreatePoolError::ConflictException(_)
    ));

    tokio::time::sleep(Duration::from_millis(110)).await;
    for identifier in [
        "pool".to_owned(),
        pool_id.clone(),
        pool_arn("us-east-1", "pool"),
    ] {
        let got = client
            .get_media_pipeline_kinesis_video_stream_pool()
            .identifier(identifier)
            .send()
            .await
            .unwrap();
        let got = got.kinesis_video_stream_pool_configuration().unwrap();
        assert_eq!(
            got.pool_status(),
            Some(&KinesisVideoStreamPoolStatus::Active)
        );
        assert_eq!(
            got.stream_configuration()
                .unwrap()
                .data_retention_in_hours(),
            Some(24)
        );
    }

    let updated = client
        .update_media_pipeline_kinesis_video_stream_pool()
        .identifier("pool")
        .stream_configuration(
            KinesisVideoStreamConfigurationUpdate::builder()
                .data_retention_in_hours(48)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let updated = updated.kinesis_video_stream_pool_configuration().unwrap();
    assert_eq!(
        updated
            .stream_configuration()
            .unwrap()
            .data_retention_in_hours(),
        Some(48)
    );
    assert!(updated.updated_timestamp() > updated.created_timestamp());
    let err = client
        .update_media_pipeline_kinesis_video_stream_pool()
        .identifier("pool")
        .stream_configuration(
            KinesisVideoStreamConfigurationUpdate::builder()
                .data_retention_in_hours(0)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().message(),
        Some("StreamConfiguration.DataRetentionInHours must be at least 1")
    );

    create_pool("second").send().await.unwrap();
    let listed = client
        .list_media_pipeline_kinesis_video_stream_pools()
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.kinesis_video_stream_pools().len(), 1);
    assert!(listed.next_token().is_some());
    let tags = client
        .list_tags_for_resource()
        .resource_arn(pool_arn("us-east-1", "pool"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);

    // In use by a pipeline: deleting conflicts until the pipeline is gone.
    let pipeline = create_id(&client, &meeting(1)).await;
    let delete = || {
        client
            .delete_media_pipeline_kinesis_video_stream_pool()
            .identifier(&pool_id)
            .send()
    };
    let err = delete().await.unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        DeletePoolError::ConflictException(_)
    ));
    client
        .delete_media_pipeline()
        .media_pipeline_id(&pipeline)
        .send()
        .await
        .unwrap();
    delete().await.unwrap();
    let err = client
        .get_media_pipeline_kinesis_video_stream_pool()
        .identifier("pool")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        GetPoolError::NotFoundException(_)
    ));

    let records = emulator.pools();
    assert_eq!(records.len(), 2);
    assert!(records[0].deleted);
    assert_eq!(records[0].data_retention_in_hours, Some(48));
    assert_eq!(
        records[0].client_request_token.as_deref(),
        Some("pool-token")
    );
}

#[tokio::test]
async fn existing_pools_can_be_required() {
    let (_emulator, client) = start_with(EmulatorConfig {
        require_existing_pools: true,
        ..EmulatorConfig::default()
    })
    .await;
    let message = create_rejected(create(&client, &meeting(1))).await;
    assert!(message.starts_with("Sinks[0].SinkArn"), "{message}");
    client
        .create_media_pipeline_kinesis_video_stream_pool()
        .pool_name("pool")
        .stream_configuration(
            KinesisVideoStreamConfiguration::builder()
                .region("us-east-1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    create_id(&client, &meeting(1)).await;
}

#[tokio::test]
async fn regions_are_independent() {
    let (emulator, client) = start().await;
    let id = create_id(&client, &meeting(1)).await;
    let west = sdk_client(&emulator.endpoint_url(), "us-west-2").await;
    let err = west
        .get_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        GetMediaPipelineError::NotFoundException(_)
    ));
    assert!(
        west.list_media_pipelines()
            .send()
            .await
            .unwrap()
            .media_pipelines()
            .is_empty()
    );
    let west_id = create_id(&west, &meeting(1)).await;
    let arn = emulator
        .pipelines()
        .into_iter()
        .find(|p| p.id == west_id)
        .unwrap()
        .arn;
    assert!(arn.starts_with(&format!(
        "arn:aws:chime:us-west-2:{ACCOUNT}:media-pipeline/"
    )));
}

#[tokio::test]
async fn admin_http_api() {
    let (emulator, client) = start().await;
    let admin = |method: &'static str, path: &'static str, body: Value| {
        let emulator = &emulator;
        async move { raw(emulator, method, path, None, &body.to_string()).await }
    };

    let response = admin(
        "PUT",
        "/_emulator/config",
        json!({"initializingDelayMs": 0, "stoppingDelayMs": 0, "regionLimits": {"us-east-1": 1}}),
    )
    .await;
    assert_eq!(response.status, 204);
    let id = create_id(&client, &meeting(1)).await;
    assert!(create(&client, &meeting(2)).send().await.is_err());

    let response = admin(
        "POST",
        "/_emulator/meetings/end",
        json!({"meetingArn": meeting(1)}),
    )
    .await;
    assert_eq!(response.json(), json!({"stopped": 1}));
    admin(
        "POST",
        "/_emulator/meetings/missing",
        json!({"meetingArn": meeting(3)}),
    )
    .await;
    let err = create(&client, &meeting(3))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(err, CreateError::NotFoundException(_)));

    let spec = json!({"operation": "GetMediaPipeline", "kind": "throttle", "next": 1});
    assert_eq!(admin("POST", "/_emulator/faults", spec).await.status, 204);
    let err = client
        .get_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        GetMediaPipelineError::ThrottledClientException(_)
    ));
    admin(
        "POST",
        "/_emulator/faults",
        json!({"kind": "Unavailable", "probability": 1.0}),
    )
    .await;
    assert_eq!(
        admin("DELETE", "/_emulator/faults", Value::Null)
            .await
            .status,
        204
    );
    client
        .get_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        admin("POST", "/_emulator/faults", json!({"kind": "latency"}))
            .await
            .status,
        400
    );

    let pipelines = admin("GET", "/_emulator/pipelines", Value::Null)
        .await
        .json();
    assert_eq!(pipelines[0]["id"], id.as_str());
    assert_eq!(pipelines[0]["status"], "Stopped");
    assert_eq!(
        admin("GET", "/_emulator/pools", Value::Null).await.json(),
        json!([])
    );
    let calls = admin("GET", "/_emulator/calls", Value::Null).await.json();
    let operations: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations,
        [
            "CreateMediaStreamPipeline",
            "CreateMediaStreamPipeline",
            "CreateMediaStreamPipeline",
            "GetMediaPipeline",
            "GetMediaPipeline"
        ]
    );
    assert_eq!(calls[0]["region"], "us-east-1");
    assert_eq!(
        admin("GET", "/_emulator/nothing", Value::Null).await.status,
        404
    );
}

#[tokio::test]
async fn standalone_program() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chime-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--initializing-delay-ms",
            "0",
            "--limit",
            "eu-west-1=1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .unwrap();
    let endpoint = line.trim();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    let client = sdk_client(endpoint, "eu-west-1").await;
    create_id(&client, &meeting(1)).await;
    let err = create(&client, &meeting(2))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, CreateError::ResourceLimitExceededException(_)),
        "{err:?}"
    );
    child.kill().await.unwrap();
}

// ----- lifecycle phases: Stopping, removal by AWS, UPDATING, DELETING, FAILED

async fn pipeline_state(client: &Client, id: &str) -> Option<(MediaPipelineStatus, DateTime)> {
    match client
        .get_media_pipeline()
        .media_pipeline_id(id)
        .send()
        .await
    {
        Ok(out) => {
            let p = out.media_pipeline()?.media_stream_pipeline()?;
            Some((p.status()?.clone(), *p.updated_timestamp()?))
        }
        Err(err) => match err.into_service_error() {
            GetMediaPipelineError::NotFoundException(_) => None,
            other => panic!("{other:?}"),
        },
    }
}

async fn create_pool(client: &Client, name: &str) -> String {
    let config = KinesisVideoStreamConfiguration::builder()
        .region("us-east-1")
        .build()
        .unwrap();
    let out = client
        .create_media_pipeline_kinesis_video_stream_pool()
        .pool_name(name)
        .stream_configuration(config)
        .send()
        .await
        .unwrap();
    let pool = out.kinesis_video_stream_pool_configuration().unwrap();
    pool.pool_id().unwrap().to_owned()
}

async fn pool_state(
    client: &Client,
    identifier: &str,
) -> Option<(KinesisVideoStreamPoolStatus, DateTime)> {
    let answer = client
        .get_media_pipeline_kinesis_video_stream_pool()
        .identifier(identifier)
        .send()
        .await;
    match answer {
        Ok(out) => {
            let pool = out.kinesis_video_stream_pool_configuration()?;
            Some((pool.pool_status()?.clone(), *pool.updated_timestamp()?))
        }
        Err(err) => match err.into_service_error() {
            GetPoolError::NotFoundException(_) => None,
            other => panic!("{other:?}"),
        },
    }
}

fn update_pool(client: &Client, identifier: &str, hours: i32) -> UpdatePoolBuilder {
    client
        .update_media_pipeline_kinesis_video_stream_pool()
        .identifier(identifier)
        .stream_configuration(
            KinesisVideoStreamConfigurationUpdate::builder()
                .data_retention_in_hours(hours)
                .build(),
        )
}

fn is_update_conflict(err: SdkError<UpdatePoolError, HttpResponse>) -> bool {
    matches!(
        err.into_service_error(),
        UpdatePoolError::ConflictException(_)
    )
}

#[tokio::test]
async fn ended_meetings_stop_through_stopping() {
    // A phase too long to end during the checks, shortened for the end.
    let (emulator, client) = start_with(EmulatorConfig {
        stopping_delay: Duration::from_secs(60),
        ..EmulatorConfig::default()
    })
    .await;
    emulator.set_region_limit("us-east-1", 1);
    let id = create_id(&client, &meeting(1)).await;
    let (status, running_since) = pipeline_state(&client, &id).await.unwrap();
    assert_eq!(status, MediaPipelineStatus::InProgress);
    // Millisecond timestamps: the stop must come at a later one.
    tokio::time::sleep(Duration::from_millis(5)).await;

    assert_eq!(emulator.end_meeting(&meeting(1)), 1);
    let (status, stopping_since) = pipeline_state(&client, &id).await.unwrap();
    assert_eq!(status, MediaPipelineStatus::Stopping);
    assert!(stopping_since > running_since);
    assert_eq!(emulator.pipelines()[0].status, "Stopping");
    // Already stopping: nothing more to stop.
    assert_eq!(emulator.end_meeting(&meeting(1)), 0);
    // A stopping pipeline no longer holds a slot of the region's limit.
    let second = create_id(&client, &meeting(2)).await;

    emulator.set_stopping_delay(Duration::from_millis(100));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (status, stopped_since) = pipeline_state(&client, &id).await.unwrap();
    assert_eq!(status, MediaPipelineStatus::Stopped);
    // Dated when the phase ended, not when this read noticed it.
    assert_eq!(
        stopped_since.to_millis().unwrap() - stopping_since.to_millis().unwrap(),
        100,
        "{stopping_since} -> {stopped_since}"
    );
    // Kept by default: still listed, still readable later on.
    let listed = client.list_media_pipelines().send().await.unwrap();
    assert_eq!(listed.media_pipelines().len(), 2);
    let records = emulator.pipelines();
    assert_eq!(records[0].status, "Stopped");
    assert!(!records[0].deleted && !records[0].removed_by_aws);

    // A pipeline can be deleted while it stops.
    assert_eq!(emulator.end_meeting(&meeting(2)), 1);
    client
        .delete_media_pipeline()
        .media_pipeline_id(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(pipeline_state(&client, &second).await, None);
    let records = emulator.pipelines();
    assert!(records[1].deleted && !records[1].removed_by_aws);
}

#[tokio::test]
async fn stopped_pipelines_can_be_removed_by_aws() {
    let (emulator, client) = start_with(EmulatorConfig {
        stopping_delay: Duration::from_millis(50),
        remove_stopped_after: Some(Duration::from_millis(100)),
        ..EmulatorConfig::default()
    })
    .await;
    let gone = create_id(&client, &meeting(1)).await;
    let deleted = create_id(&client, &meeting(2)).await;
    let running = create_id(&client, &meeting(3)).await;
    let arn = emulator.pipelines()[0].arn.clone();

    assert_eq!(emulator.end_meeting(&meeting(1)), 1);
    client
        .delete_media_pipeline()
        .media_pipeline_id(&deleted)
        .send()
        .await
        .unwrap();
    // Stopping (50 ms), Stopped (100 ms), then removed: one read sees the end.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(pipeline_state(&client, &gone).await, None);
    let err = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        ListTagsForResourceError::NotFoundException(_)
    ));
    let listed = client.list_media_pipelines().send().await.unwrap();
    let listed: Vec<&str> = listed
        .media_pipelines()
        .iter()
        .filter_map(|p| p.media_pipeline_id())
        .collect();
    assert_eq!(listed, [running.as_str()]);

    let records = emulator.pipelines();
    let flags: Vec<(&str, bool, bool)> = records
        .iter()
        .map(|p| (p.status.as_str(), p.deleted, p.removed_by_aws))
        .collect();
    assert_eq!(
        flags,
        [
            ("Stopped", true, true),
            ("InProgress", true, false),
            ("InProgress", false, false)
        ]
    );
    // What is left in AWS: records not deleted, the removed one excluded.
    assert_eq!(records.iter().filter(|p| !p.deleted).count(), 1);

    // Turned off again, a stopped pipeline stays.
    emulator.set_remove_stopped_after(None);
    emulator.set_stopping_delay(Duration::ZERO);
    assert_eq!(emulator.end_meeting(&meeting(3)), 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (status, _) = pipeline_state(&client, &running).await.unwrap();
    assert_eq!(status, MediaPipelineStatus::Stopped);
    assert!(!emulator.pipelines()[2].deleted);
}

#[tokio::test]
async fn pool_updates_pass_through_updating() {
    // A phase too long to end during the checks, shortened for the end.
    let (emulator, client) = start_with(EmulatorConfig {
        pool_updating_delay: Duration::from_secs(60),
        ..EmulatorConfig::default()
    })
    .await;
    let id = create_pool(&client, "pool").await;
    let (status, created) = pool_state(&client, "pool").await.unwrap();
    assert_eq!(status, KinesisVideoStreamPoolStatus::Active);
    tokio::time::sleep(Duration::from_millis(5)).await;

    // The answer shows the new configuration, UPDATING.
    let out = update_pool(&client, &id, 48).send().await.unwrap();
    let pool = out.kinesis_video_stream_pool_configuration().unwrap();
    assert_eq!(
        pool.pool_status(),
        Some(&KinesisVideoStreamPoolStatus::Updating)
    );
    assert_eq!(
        pool.stream_configuration()
            .unwrap()
            .data_retention_in_hours(),
        Some(48)
    );
    let (status, updating_since) = pool_state(&client, "pool").await.unwrap();
    assert_eq!(status, KinesisVideoStreamPoolStatus::Updating);
    assert!(updating_since > created);
    assert_eq!(emulator.pools()[0].status, "UPDATING");
    assert_eq!(emulator.pools()[0].data_retention_in_hours, Some(48));

    emulator.set_pool_updating_delay(Duration::from_millis(100));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (status, active_since) = pool_state(&client, "pool").await.unwrap();
    assert_eq!(status, KinesisVideoStreamPoolStatus::Active);
    assert_eq!(
        active_since.to_millis().unwrap() - updating_since.to_millis().unwrap(),
        100,
        "{updating_since} -> {active_since}"
    );
    assert_eq!(
        emulator.call_count("UpdateMediaPipelineKinesisVideoStreamPool"),
        1
    );
}

#[tokio::test]
async fn pool_deletes_pass_through_deleting() {
    // A phase too long to end during the checks, shortened for the end.
    let (emulator, client) = start_with(EmulatorConfig {
        pool_deleting_delay: Duration::from_secs(60),
        ..EmulatorConfig::default()
    })
    .await;
    let id = create_pool(&client, "pool").await;
    let (_, created) = pool_state(&client, "pool").await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let delete = || {
        client
            .delete_media_pipeline_kinesis_video_stream_pool()
            .identifier("pool")
            .send()
    };
    delete().await.unwrap();

    // Still there while DELETING, by each of its identifiers.
    let arn = pool_arn("us-east-1", "pool");
    for identifier in ["pool", id.as_str(), arn.as_str()] {
        let (status, since) = pool_state(&client, identifier).await.unwrap();
        assert_eq!(status, KinesisVideoStreamPoolStatus::Deleting);
        assert!(since > created);
    }
    let listed = client
        .list_media_pipeline_kinesis_video_stream_pools()
        .send()
        .await
        .unwrap();
    assert_eq!(listed.kinesis_video_stream_pools().len(), 1);
    let record = &emulator.pools()[0];
    assert_eq!(
        (record.status.as_str(), record.deleted),
        ("DELETING", false)
    );
    // A second delete changes nothing; an update or a new pool of the name conflicts.
    delete().await.unwrap();
    assert!(is_update_conflict(
        update_pool(&client, "pool", 48).send().await.unwrap_err()
    ));
    let err = client
        .create_media_pipeline_kinesis_video_stream_pool()
        .pool_name("pool")
        .stream_configuration(
            KinesisVideoStreamConfiguration::builder()
                .region("us-east-1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        CreatePoolError::ConflictException(_)
    ));

    emulator.set_pool_deleting_delay(Duration::from_millis(100));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(pool_state(&client, "pool").await, None);
    let err = delete().await.unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        DeletePoolError::NotFoundException(_)
    ));
    let listed = client
        .list_media_pipeline_kinesis_video_stream_pools()
        .send()
        .await
        .unwrap();
    assert!(listed.kinesis_video_stream_pools().is_empty());
    let records = emulator.pools();
    assert_eq!(records.len(), 1);
    assert!(records[0].deleted);
    assert_eq!(
        emulator.call_count("DeleteMediaPipelineKinesisVideoStreamPool"),
        3
    );
    // The name is free again.
    create_pool(&client, "pool").await;
    assert_eq!(emulator.pools().len(), 2);
}

#[tokio::test]
async fn pools_can_be_failed() {
    let (emulator, client) = start_with(EmulatorConfig {
        pool_deleting_delay: Duration::ZERO,
        ..EmulatorConfig::default()
    })
    .await;
    create_pool(&client, "pool").await;
    let arn = pool_arn("us-east-1", "pool");
    let (_, created) = pool_state(&client, "pool").await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;

    assert_eq!(emulator.fail_pool(&arn), 1);
    assert_eq!(emulator.fail_pool("no-such-pool"), 0);
    let (status, failed_since) = pool_state(&client, "pool").await.unwrap();
    assert_eq!(status, KinesisVideoStreamPoolStatus::Failed);
    assert!(failed_since > created);
    // FAILED stays: no timed phase leaves it, an update is refused.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        pool_state(&client, "pool").await,
        Some((KinesisVideoStreamPoolStatus::Failed, failed_since))
    );
    assert!(is_update_conflict(
        update_pool(&client, "pool", 48).send().await.unwrap_err()
    ));
    assert_eq!(emulator.pools()[0].status, "FAILED");

    // A failed pool can be deleted.
    client
        .delete_media_pipeline_kinesis_video_stream_pool()
        .identifier(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(pool_state(&client, "pool").await, None);
    assert!(emulator.pools()[0].deleted);
    assert_eq!(emulator.fail_pool(&arn), 0);
}

#[tokio::test]
async fn admin_http_api_drives_the_lifecycle_phases() {
    let (emulator, client) = start().await;
    let admin = |method: &'static str, path: &'static str, body: Value| {
        let emulator = &emulator;
        async move { raw(emulator, method, path, None, &body.to_string()).await }
    };
    let config = |body: Value| async move {
        let response = admin("PUT", "/_emulator/config", body).await;
        assert_eq!(response.status, 204, "{}", response.body);
    };
    let end = |n: u32| async move {
        let body = json!({"meetingArn": meeting(n)});
        admin("POST", "/_emulator/meetings/end", body).await.json()
    };

    // Zero phases pass at once; long ones show without waiting.
    config(json!({"stoppingDelayMs": 0, "removeStoppedAfterMs": 0})).await;
    let removed = create_id(&client, &meeting(1)).await;
    assert_eq!(end(1).await, json!({"stopped": 1}));
    assert_eq!(pipeline_state(&client, &removed).await, None);
    // null turns removal off; the earlier stoppingDelayMs stays.
    config(json!({"removeStoppedAfterMs": null})).await;
    let kept = create_id(&client, &meeting(2)).await;
    end(2).await;
    let (status, _) = pipeline_state(&client, &kept).await.unwrap();
    assert_eq!(status, MediaPipelineStatus::Stopped);
    config(json!({"stoppingDelayMs": 60_000})).await;
    let slow = create_id(&client, &meeting(3)).await;
    end(3).await;
    let (status, _) = pipeline_state(&client, &slow).await.unwrap();
    assert_eq!(status, MediaPipelineStatus::Stopping);
    let pipelines = admin("GET", "/_emulator/pipelines", Value::Null)
        .await
        .json();
    let flags: Vec<(&Value, &Value)> = pipelines
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (&p["status"], &p["removedByAws"]))
        .collect();
    assert_eq!(
        flags,
        [
            (&json!("Stopped"), &json!(true)),
            (&json!("Stopped"), &json!(false)),
            (&json!("Stopping"), &json!(false))
        ]
    );

    config(json!({"poolUpdatingDelayMs": 60_000, "poolDeletingDelayMs": 60_000})).await;
    create_pool(&client, "updated").await;
    create_pool(&client, "deleted").await;
    create_pool(&client, "failed").await;
    update_pool(&client, "updated", 48).send().await.unwrap();
    client
        .delete_media_pipeline_kinesis_video_stream_pool()
        .identifier("deleted")
        .send()
        .await
        .unwrap();
    let response = admin(
        "POST",
        "/_emulator/pools/fail",
        json!({"identifier": "failed"}),
    )
    .await;
    assert_eq!(response.json(), json!({"failed": 1}));
    let pools = admin("GET", "/_emulator/pools", Value::Null).await.json();
    let statuses: Vec<&Value> = pools
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!("UPDATING"), &json!("DELETING"), &json!("FAILED")]
    );

    config(json!({"poolUpdatingDelayMs": 0, "poolDeletingDelayMs": 0})).await;
    assert_eq!(
        pool_state(&client, "updated").await.map(|s| s.0),
        Some(KinesisVideoStreamPoolStatus::Active)
    );
    assert_eq!(pool_state(&client, "deleted").await, None);

    let response = admin("PUT", "/_emulator/config", json!({"stoppingDelay": 1})).await;
    assert_eq!(response.status, 400);
    let response = admin("POST", "/_emulator/pools/fail", json!({})).await;
    assert_eq!(response.status, 400);
}

// ----- media capture and concatenation pipelines --------------------------

const BUCKET: &str = "arn:aws:s3:::capture-bucket";

fn capture(client: &Client, meeting_arn: &str) -> CaptureBuilder {
    client
        .create_media_capture_pipeline()
        .source_type(MediaPipelineSourceType::ChimeSdkMeeting)
        .source_arn(meeting_arn)
        .sink_type(MediaPipelineSinkType::S3Bucket)
        .sink_arn(BUCKET)
}

/// A new capture pipeline's ID and ARN.
async fn capture_id(client: &Client, meeting_arn: &str) -> (String, String) {
    let out = capture(client, meeting_arn).send().await.unwrap();
    let p = out.media_capture_pipeline().unwrap();
    (
        p.media_pipeline_id().unwrap().to_owned(),
        p.media_pipeline_arn().unwrap().to_owned(),
    )
}

fn artifacts(audio: AudioMuxType) -> ChimeSdkMeetingConfiguration {
    let layout = HorizontalLayoutConfiguration::builder()
        .tile_count(4)
        .tile_aspect_ratio("16/9")
        .build();
    let grid = GridViewConfiguration::builder()
        .content_share_layout(ContentShareLayoutOption::Horizontal)
        .horizontal_layout_configuration(layout)
        .build()
        .unwrap();
    let artifacts = ArtifactsConfiguration::builder()
        .audio(
            AudioArtifactsConfiguration::builder()
                .mux_type(audio)
                .build()
                .unwrap(),
        )
        .video(
            VideoArtifactsConfiguration::builder()
                .state(ArtifactsState::Disabled)
                .build()
                .unwrap(),
        )
        .content(
            ContentArtifactsConfiguration::builder()
                .state(ArtifactsState::Disabled)
                .build()
                .unwrap(),
        )
        .composited_video(
            CompositedVideoArtifactsConfiguration::builder()
                .grid_view_configuration(grid)
                .build(),
        )
        .build();
    ChimeSdkMeetingConfiguration::builder()
        .artifacts_configuration(artifacts)
        .build()
}

fn concatenation_source(capture_arn: &str) -> ConcatenationSource {
    // One configuration type per artifact, each with just a State.
    macro_rules! state {
        ($config:ident, $state:expr) => {
            $config::builder().state($state).build().unwrap()
        };
    }
    let enabled = ArtifactsConcatenationState::Enabled;
    let artifacts = ArtifactsConcatenationConfiguration::builder()
        .audio(state!(
            AudioConcatenationConfiguration,
            AudioArtifactsConcatenationState::Enabled
        ))
        .video(state!(VideoConcatenationConfiguration, enabled.clone()))
        .content(state!(ContentConcatenationConfiguration, enabled.clone()))
        .data_channel(state!(
            DataChannelConcatenationConfiguration,
            enabled.clone()
        ))
        .transcription_messages(state!(
            TranscriptionMessagesConcatenationConfiguration,
            enabled.clone()
        ))
        .meeting_events(state!(MeetingEventsConcatenationConfiguration, enabled))
        .composited_video(state!(
            CompositedVideoConcatenationConfiguration,
            ArtifactsConcatenationState::Disabled
        ))
        .build();
    let configuration = MediaCapturePipelineSourceConfiguration::builder()
        .media_pipeline_arn(capture_arn)
        .chime_sdk_meeting_configuration(
            ChimeSdkMeetingConcatenationConfiguration::builder()
                .artifacts_configuration(artifacts)
                .build(),
        )
        .build()
        .unwrap();
    ConcatenationSource::builder()
        .r#type(ConcatenationSourceType::MediaCapturePipeline)
        .media_capture_pipeline_source_configuration(configuration)
        .build()
        .unwrap()
}

fn concatenation_sink(destination: &str) -> ConcatenationSink {
    ConcatenationSink::builder()
        .r#type(ConcatenationSinkType::S3Bucket)
        .s3_bucket_sink_configuration(
            S3BucketSinkConfiguration::builder()
                .destination(destination)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn concatenate(client: &Client, capture_arn: &str) -> ConcatenationBuilder {
    client
        .create_media_concatenation_pipeline()
        .sources(concatenation_source(capture_arn))
        .sinks(concatenation_sink("arn:aws:s3:::concatenated"))
}

async fn concatenation_id(client: &Client, capture_arn: &str) -> String {
    let out = concatenate(client, capture_arn).send().await.unwrap();
    let p = out.media_concatenation_pipeline().unwrap();
    p.media_pipeline_id().unwrap().to_owned()
}

/// The message of a `BadRequestException` from CreateMediaCapturePipeline.
async fn capture_rejected(builder: CaptureBuilder) -> String {
    match builder.send().await.map_err(SdkError::into_service_error) {
        Err(CreateCaptureError::BadRequestException(e)) => {
            assert_eq!(e.code(), Some(&ErrorCode::BadRequest));
            e.message().unwrap().to_owned()
        }
        other => panic!("expected BadRequestException, got {other:?}"),
    }
}

/// The message of a `BadRequestException` from CreateMediaConcatenationPipeline.
async fn concatenation_rejected(builder: ConcatenationBuilder) -> String {
    match builder.send().await.map_err(SdkError::into_service_error) {
        Err(CreateConcatenationError::BadRequestException(e)) => {
            assert_eq!(e.code(), Some(&ErrorCode::BadRequest));
            e.message().unwrap().to_owned()
        }
        other => panic!("expected BadRequestException, got {other:?}"),
    }
}

/// A pipeline of any kind, as GetMediaPipeline answers it: the member that
/// holds it, its status; `None` once NotFound.
async fn any_pipeline_state(
    client: &Client,
    id: &str,
) -> Option<(&'static str, MediaPipelineStatus)> {
    let out = match client
        .get_media_pipeline()
        .media_pipeline_id(id)
        .send()
        .await
        .map_err(SdkError::into_service_error)
    {
        Ok(out) => out,
        Err(GetMediaPipelineError::NotFoundException(_)) => return None,
        Err(other) => panic!("{other:?}"),
    };
    let p = out.media_pipeline().unwrap();
    let (member, status) = match (
        p.media_stream_pipeline(),
        p.media_capture_pipeline(),
        p.media_concatenation_pipeline(),
    ) {
        (Some(s), None, None) => ("MediaStreamPipeline", s.status()),
        (None, Some(c), None) => ("MediaCapturePipeline", c.status()),
        (None, None, Some(c)) => ("MediaConcatenationPipeline", c.status()),
        other => panic!("one member expected: {other:?}"),
    };
    Some((member, status.unwrap().clone()))
}

#[tokio::test]
async fn capture_pipeline_round_trip() {
    let (emulator, client) = start().await;
    let sse = SseAwsKeyManagementParams::builder()
        .aws_kms_key_id("alias/capture")
        .aws_kms_encryption_context("{\"team\":\"a\"}")
        .build()
        .unwrap();
    let role = format!("arn:aws:iam::{ACCOUNT}:role/capture-sink");
    let out = capture(&client, &meeting(1))
        .client_request_token("capture-1")
        .chime_sdk_meeting_configuration(artifacts(AudioMuxType::AudioOnly))
        .sse_aws_key_management_params(sse.clone())
        .sink_iam_role_arn(&role)
        .tags(tag("team", "a"))
        .send()
        .await
        .unwrap();
    let p = out.media_capture_pipeline().unwrap();
    let id = p.media_pipeline_id().unwrap().to_owned();
    let arn = p.media_pipeline_arn().unwrap().to_owned();
    assert_eq!(
        arn,
        format!("arn:aws:chime:us-east-1:{ACCOUNT}:media-pipeline/{id}")
    );
    assert_eq!(p.status(), Some(&MediaPipelineStatus::Initializing));
    assert_eq!(
        p.source_type(),
        Some(&MediaPipelineSourceType::ChimeSdkMeeting)
    );
    assert_eq!(p.source_arn(), Some(meeting(1).as_str()));
    assert_eq!(p.sink_type(), Some(&MediaPipelineSinkType::S3Bucket));
    assert_eq!(p.sink_arn(), Some(BUCKET));
    // Answered back as sent.
    assert_eq!(
        p.chime_sdk_meeting_configuration(),
        Some(&artifacts(AudioMuxType::AudioOnly))
    );
    assert_eq!(p.sse_aws_key_management_params(), Some(&sse));
    assert_eq!(p.sink_iam_role_arn(), Some(role.as_str()));
    assert!(p.created_timestamp().is_some() && p.updated_timestamp().is_some());

    // Idempotent: the same token answers the first pipeline; reused with
    // other parameters, it is refused.
    let replay = capture(&client, &meeting(1))
        .client_request_token("capture-1")
        .chime_sdk_meeting_configuration(artifacts(AudioMuxType::AudioOnly))
        .sse_aws_key_management_params(sse.clone())
        .sink_iam_role_arn(&role)
        .tags(tag("team", "a"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        replay.media_capture_pipeline().unwrap().media_pipeline_id(),
        Some(id.as_str())
    );
    let reused = capture_rejected(capture(&client, &meeting(2)).client_request_token("capture-1"));
    assert_eq!(
        reused.await,
        "ClientRequestToken capture-1 was already used with different parameters"
    );
    // A token is the operation's own: a stream pipeline may use it too.
    create(&client, &meeting(3))
        .client_request_token("capture-1")
        .send()
        .await
        .unwrap();

    assert_eq!(
        any_pipeline_state(&client, &id).await,
        Some(("MediaCapturePipeline", MediaPipelineStatus::InProgress))
    );
    let got = client
        .get_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap();
    let got = got
        .media_pipeline()
        .unwrap()
        .media_capture_pipeline()
        .unwrap();
    assert_eq!(got.sse_aws_key_management_params(), Some(&sse));
    assert_eq!(got.sink_iam_role_arn(), Some(role.as_str()));

    // Listed beside the stream pipeline.
    let listed = client.list_media_pipelines().send().await.unwrap();
    let listed: Vec<(&str, &str)> = listed
        .media_pipelines()
        .iter()
        .map(|p| {
            (
                p.media_pipeline_id().unwrap(),
                p.media_pipeline_arn().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], (id.as_str(), arn.as_str()));

    // Tags: at create, then through the tagging operations.
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags(tag("env", "test"))
        .send()
        .await
        .unwrap();
    client
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags(), [tag("env", "test")]);

    let record = &emulator.pipelines()[0];
    assert_eq!(record.kind, "MediaCapturePipeline");
    assert_eq!(record.source_arns, [meeting(1)]);
    assert_eq!(record.sink_arns, [BUCKET]);
    assert_eq!(record.client_request_token.as_deref(), Some("capture-1"));

    client
        .delete_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(any_pipeline_state(&client, &id).await, None);
    let listed = client.list_media_pipelines().send().await.unwrap();
    assert_eq!(listed.media_pipelines().len(), 1);
    assert!(emulator.pipelines()[0].deleted);
    assert_eq!(emulator.call_count("CreateMediaCapturePipeline"), 3);
}

#[tokio::test]
async fn concatenation_pipeline_round_trip_and_lifecycle() {
    let (emulator, client) = start_with(EmulatorConfig {
        concatenation_delay: Duration::from_millis(100),
        remove_stopped_after: Some(Duration::from_millis(100)),
        ..EmulatorConfig::default()
    })
    .await;
    let (capture_id, capture_arn) = capture_id(&client, &meeting(1)).await;
    let out = concatenate(&client, &capture_arn)
        .client_request_token("concat-1")
        .tags(tag("team", "a"))
        .send()
        .await
        .unwrap();
    let p = out.media_concatenation_pipeline().unwrap();
    let id = p.media_pipeline_id().unwrap().to_owned();
    let arn = p.media_pipeline_arn().unwrap().to_owned();
    assert_eq!(
        arn,
        format!("arn:aws:chime:us-east-1:{ACCOUNT}:media-pipeline/{id}")
    );
    assert_eq!(p.status(), Some(&MediaPipelineStatus::Initializing));
    assert_eq!(p.sources(), [concatenation_source(&capture_arn)]);
    assert_eq!(p.sinks(), [concatenation_sink("arn:aws:s3:::concatenated")]);

    let replay = concatenate(&client, &capture_arn)
        .client_request_token("concat-1")
        .tags(tag("team", "a"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        replay
            .media_concatenation_pipeline()
            .unwrap()
            .media_pipeline_id(),
        Some(id.as_str())
    );
    let got = client
        .get_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap();
    let got = got
        .media_pipeline()
        .unwrap()
        .media_concatenation_pipeline()
        .unwrap();
    assert_eq!(got.status(), Some(&MediaPipelineStatus::InProgress));
    assert_eq!(got.sources(), [concatenation_source(&capture_arn)]);
    let running_since = *got.updated_timestamp().unwrap();
    let listed = client.list_media_pipelines().send().await.unwrap();
    let ids: Vec<&str> = listed
        .media_pipelines()
        .iter()
        .filter_map(|p| p.media_pipeline_id())
        .collect();
    assert_eq!(ids, [capture_id.as_str(), id.as_str()]);
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags(), [tag("team", "a")]);
    let record = &emulator.pipelines()[1];
    assert_eq!(record.kind, "MediaConcatenationPipeline");
    assert_eq!(record.source_arns, [capture_arn.as_str()]);
    assert_eq!(record.sink_arns, ["arn:aws:s3:::concatenated"]);

    // Stopped on its own after the processing time, dated when it ended;
    // the capture pipeline runs on.
    tokio::time::sleep(Duration::from_millis(130)).await;
    let got = client
        .get_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await
        .unwrap();
    let got = got
        .media_pipeline()
        .unwrap()
        .media_concatenation_pipeline()
        .unwrap();
    assert_eq!(got.status(), Some(&MediaPipelineStatus::Stopped));
    let stopped_since = *got.updated_timestamp().unwrap();
    assert_eq!(
        stopped_since.to_millis().unwrap() - running_since.to_millis().unwrap(),
        100
    );
    assert_eq!(
        any_pipeline_state(&client, &capture_id).await,
        Some(("MediaCapturePipeline", MediaPipelineStatus::InProgress))
    );
    // Then removed by AWS, as other stopped pipelines.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(any_pipeline_state(&client, &id).await, None);
    let record = &emulator.pipelines()[1];
    assert!(record.deleted && record.removed_by_aws);

    // Deleted by a call, before its processing is over.
    emulator.set_concatenation_delay(Duration::from_secs(60));
    let other = concatenation_id(&client, &capture_arn).await;
    assert_eq!(
        any_pipeline_state(&client, &other).await,
        Some((
            "MediaConcatenationPipeline",
            MediaPipelineStatus::InProgress
        ))
    );
    client
        .delete_media_pipeline()
        .media_pipeline_id(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(any_pipeline_state(&client, &other).await, None);
    assert_eq!(emulator.call_count("CreateMediaConcatenationPipeline"), 3);
}

#[tokio::test]
async fn concatenation_needs_a_capture_pipeline() {
    let (emulator, client) = start().await;
    let missing = format!(
        "arn:aws:chime:us-east-1:{ACCOUNT}:media-pipeline/0b7c8a4e-1d2f-4c3b-9a8e-7f6d5c4b3a21"
    );
    assert_eq!(
        concatenation_rejected(concatenate(&client, &missing)).await,
        format!("Media capture pipeline {missing} not found")
    );
    // A stream pipeline is no capture pipeline.
    let stream = create(&client, &meeting(1)).send().await.unwrap();
    let stream_arn = stream
        .media_stream_pipeline()
        .unwrap()
        .media_pipeline_arn()
        .unwrap()
        .to_owned();
    assert_eq!(
        concatenation_rejected(concatenate(&client, &stream_arn)).await,
        format!(
            "Sources[0].MediaCapturePipelineSourceConfiguration.MediaPipelineArn {stream_arn} \
             is not a media capture pipeline"
        )
    );
    // Nor is a deleted one, or one of another region.
    let (capture, capture_arn) = capture_id(&client, &meeting(2)).await;
    let west = sdk_client(&emulator.endpoint_url(), "us-west-2").await;
    assert!(
        concatenation_rejected(concatenate(&west, &capture_arn))
            .await
            .ends_with("not found")
    );
    client
        .delete_media_pipeline()
        .media_pipeline_id(&capture)
        .send()
        .await
        .unwrap();
    assert!(
        concatenation_rejected(concatenate(&client, &capture_arn))
            .await
            .ends_with("not found")
    );
    let kinds: Vec<String> = emulator.pipelines().into_iter().map(|p| p.kind).collect();
    assert_eq!(kinds, ["MediaStreamPipeline", "MediaCapturePipeline"]);
}

#[tokio::test]
async fn capture_and_concatenation_validation() {
    let (emulator, client) = start().await;
    let capture_cases: Vec<(CaptureBuilder, String)> = vec![
        // An enum.
        (
            capture(&client, &meeting(1))
                .sink_type(MediaPipelineSinkType::from("KinesisVideoStreamPool")),
            "SinkType must be one of: S3Bucket".into(),
        ),
        (
            capture(&client, &meeting(1))
                .chime_sdk_meeting_configuration(artifacts(AudioMuxType::from("Loud"))),
            "ChimeSdkMeetingConfiguration.ArtifactsConfiguration.Audio.MuxType must be one of: \
             AudioOnly, AudioWithActiveSpeakerVideo, AudioWithCompositedVideo"
                .into(),
        ),
        // Bounds.
        (
            capture(&client, &meeting(1)).client_request_token("x"),
            "ClientRequestToken must be between 2 and 64 characters long".into(),
        ),
        (
            capture(&client, &meeting(1))
                .set_tags(Some((0..201).map(|i| tag(&format!("k{i}"), "v")).collect())),
            "Tags must contain between 1 and 200 items".into(),
        ),
        (
            capture(&client, &meeting(1)).set_tags(Some(vec![])),
            "Tags must contain between 1 and 200 items".into(),
        ),
        (
            capture(&client, &meeting(1)).chime_sdk_meeting_configuration({
                let mut c = artifacts(AudioMuxType::AudioOnly);
                let grid = GridViewConfiguration::builder()
                    .content_share_layout(ContentShareLayoutOption::Horizontal)
                    .horizontal_layout_configuration(
                        HorizontalLayoutConfiguration::builder()
                            .tile_count(11)
                            .build(),
                    )
                    .build()
                    .unwrap();
                if let Some(a) = c.artifacts_configuration.as_mut() {
                    a.composited_video = Some(
                        CompositedVideoArtifactsConfiguration::builder()
                            .grid_view_configuration(grid)
                            .build(),
                    );
                }
                c
            }),
            "ChimeSdkMeetingConfiguration.ArtifactsConfiguration.CompositedVideo.\
             GridViewConfiguration.HorizontalLayoutConfiguration.TileCount must be between 1 and 10"
                .into(),
        ),
        // A pattern.
        (
            capture(&client, &meeting(1)).sink_iam_role_arn("role"),
            "SinkIamRoleArn must match the pattern ^arn[\\/\\:\\-\\_\\.a-zA-Z0-9]+$".into(),
        ),
        // Not a bucket: another service's ARN.
        (
            capture(&client, &meeting(1)).sink_arn(pool_arn("us-east-1", "pool")),
            format!(
                "SinkArn {} is not an S3 bucket ARN (arn:aws:s3:::bucket-name)",
                pool_arn("us-east-1", "pool")
            ),
        ),
        (
            capture(&client, &meeting(1)).sink_arn("arn:aws:s3:::A_Bucket"),
            "SinkArn arn:aws:s3:::A_Bucket is not an S3 bucket ARN (arn:aws:s3:::bucket-name)"
                .into(),
        ),
        // Not a meeting.
        (
            capture(&client, BUCKET),
            format!("SourceArn {BUCKET} is not a Chime SDK meeting ARN"),
        ),
    ];
    for (builder, expected) in capture_cases {
        assert_eq!(capture_rejected(builder).await, expected);
    }
    // A bucket with a key prefix is a bucket.
    capture(&client, &meeting(1))
        .sink_arn("arn:aws:s3:::capture-bucket/meetings/1")
        .send()
        .await
        .unwrap();
    let (_, capture_arn) = capture_id(&client, &meeting(2)).await;

    let concatenation_cases: Vec<(ConcatenationBuilder, String)> = vec![
        (
            concatenate(&client, &capture_arn).sources(concatenation_source(&capture_arn)),
            "Sources must contain between 1 and 1 items".into(),
        ),
        (
            concatenate(&client, &capture_arn).sinks(concatenation_sink("arn:aws:s3:::b2b")),
            "Sinks must contain between 1 and 1 items".into(),
        ),
        (
            client
                .create_media_concatenation_pipeline()
                .sources(concatenation_source(&capture_arn))
                .sinks(
                    ConcatenationSink::builder()
                        .r#type(ConcatenationSinkType::from("Kinesis"))
                        .s3_bucket_sink_configuration(
                            S3BucketSinkConfiguration::builder()
                                .destination(BUCKET)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                ),
            "Sinks[0].Type must be one of: S3Bucket".into(),
        ),
        (
            client
                .create_media_concatenation_pipeline()
                .sources(concatenation_source(&capture_arn))
                .sinks(concatenation_sink(&meeting(1))),
            format!(
                "Sinks[0].S3BucketSinkConfiguration.Destination {} is not an S3 bucket ARN \
                 (arn:aws:s3:::bucket-name)",
                meeting(1)
            ),
        ),
    ];
    for (builder, expected) in concatenation_cases {
        assert_eq!(concatenation_rejected(builder).await, expected);
    }
    assert_eq!(emulator.pipelines().len(), 2);

    // Required members, on the wire: the SDK would refuse to send these.
    let auth = Some(FAKE_AUTH);
    let capture_body =
        json!({"SourceType": "ChimeSdkMeeting", "SourceArn": meeting(1), "SinkType": "S3Bucket"});
    let response = raw(
        &emulator,
        "POST",
        "/sdk-media-capture-pipelines",
        auth,
        &capture_body.to_string(),
    )
    .await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("BadRequestException")
    );
    assert_eq!(response.json()["Message"], "SinkArn is required");
    let mut source = json!({"Type": "MediaCapturePipeline",
        "MediaCapturePipelineSourceConfiguration": {"MediaPipelineArn": capture_arn,
            "ChimeSdkMeetingConfiguration": {"ArtifactsConfiguration": {}}}});
    let body = json!({"Sources": [source], "Sinks": [{"Type": "S3Bucket"}]});
    let response = raw(
        &emulator,
        "POST",
        "/sdk-media-concatenation-pipelines",
        auth,
        &body.to_string(),
    )
    .await;
    assert_eq!(
        response.json()["Message"],
        "Sinks[0].S3BucketSinkConfiguration is required"
    );
    let body = json!({"Sources": [source.clone()],
        "Sinks": [{"Type": "S3Bucket", "S3BucketSinkConfiguration": {"Destination": BUCKET}}]});
    let response = raw(
        &emulator,
        "POST",
        "/sdk-media-concatenation-pipelines",
        auth,
        &body.to_string(),
    )
    .await;
    assert_eq!(
        response.json()["Message"],
        "Sources[0].MediaCapturePipelineSourceConfiguration.ChimeSdkMeetingConfiguration.\
         ArtifactsConfiguration.Audio is required"
    );
    let enabled = json!({"State": "Enabled"});
    source["MediaCapturePipelineSourceConfiguration"]["ChimeSdkMeetingConfiguration"]["ArtifactsConfiguration"] = json!({"Audio": enabled, "Video": enabled,
            "Content": enabled, "DataChannel": enabled, "TranscriptionMessages": enabled,
            "MeetingEvents": enabled, "CompositedVideo": enabled});
    source["Type"] = json!(null);
    let body = json!({"Sources": [source],
        "Sinks": [{"Type": "S3Bucket", "S3BucketSinkConfiguration": {"Destination": BUCKET}}]});
    let response = raw(
        &emulator,
        "POST",
        "/sdk-media-concatenation-pipelines",
        auth,
        &body.to_string(),
    )
    .await;
    assert_eq!(response.json()["Message"], "Sources[0].Type is required");
    assert_eq!(emulator.pipelines().len(), 2);
}

#[tokio::test]
async fn inaccessible_buckets_are_refused() {
    let (emulator, client) = start().await;
    emulator.set_bucket_inaccessible("capture-bucket", true);
    assert_eq!(
        capture_rejected(capture(&client, &meeting(1))).await,
        format!("S3 Bucket policy not valid/present for Sink {BUCKET}")
    );
    // By the bucket, whatever the key prefix.
    let prefixed = "arn:aws:s3:::capture-bucket/meetings";
    assert_eq!(
        capture_rejected(capture(&client, &meeting(1)).sink_arn(prefixed)).await,
        format!("S3 Bucket policy not valid/present for Sink {prefixed}")
    );
    let (_, capture_arn) = capture(&client, &meeting(1))
        .sink_arn("arn:aws:s3:::other-bucket")
        .send()
        .await
        .map(|out| {
            let p = out.media_capture_pipeline().unwrap();
            (
                p.media_pipeline_id().unwrap().to_owned(),
                p.media_pipeline_arn().unwrap().to_owned(),
            )
        })
        .unwrap();
    assert_eq!(
        concatenation_rejected(
            client
                .create_media_concatenation_pipeline()
                .sources(concatenation_source(&capture_arn))
                .sinks(concatenation_sink(BUCKET))
        )
        .await,
        format!("S3 Bucket policy not valid/present for Sink {BUCKET}")
    );

    // Lifted (here by ARN), then set again through the admin API.
    emulator.set_bucket_inaccessible(BUCKET, false);
    capture_id(&client, &meeting(2)).await;
    let response = raw(
        &emulator,
        "POST",
        "/_emulator/buckets/inaccessible",
        None,
        &json!({"bucket": "capture-bucket"}).to_string(),
    )
    .await;
    assert_eq!(response.status, 204);
    assert!(
        capture_rejected(capture(&client, &meeting(3)))
            .await
            .starts_with("S3 Bucket policy not valid/present")
    );
    let response = raw(
        &emulator,
        "POST",
        "/_emulator/buckets/inaccessible",
        None,
        &json!({"bucket": "capture-bucket", "inaccessible": false}).to_string(),
    )
    .await;
    assert_eq!(response.status, 204);
    capture_id(&client, &meeting(3)).await;
    assert_eq!(emulator.pipelines().len(), 3);
}

#[tokio::test]
async fn capture_pipelines_follow_their_meeting() {
    let (emulator, client) = start_with(EmulatorConfig {
        stopping_delay: Duration::from_millis(100),
        remove_stopped_after: Some(Duration::from_millis(100)),
        ..EmulatorConfig::default()
    })
    .await;
    // A missing meeting: a BadRequest, the capture create's model lists no
    // NotFoundException.
    emulator.mark_meeting_missing(&meeting(9));
    let message = capture_rejected(capture(&client, &meeting(9))).await;
    assert_eq!(message, format!("Meeting {} not found", meeting(9)));

    let (id, arn) = capture_id(&client, &meeting(1)).await;
    let (other, _) = capture_id(&client, &meeting(2)).await;
    let concatenation = concatenation_id(&client, &arn).await;
    assert_eq!(
        any_pipeline_state(&client, &id).await,
        Some(("MediaCapturePipeline", MediaPipelineStatus::InProgress))
    );
    assert_eq!(emulator.end_meeting(&meeting(1)), 1);
    assert_eq!(
        any_pipeline_state(&client, &id).await,
        Some(("MediaCapturePipeline", MediaPipelineStatus::Stopping))
    );
    tokio::time::sleep(Duration::from_millis(130)).await;
    assert_eq!(
        any_pipeline_state(&client, &id).await,
        Some(("MediaCapturePipeline", MediaPipelineStatus::Stopped))
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(any_pipeline_state(&client, &id).await, None);
    assert!(emulator.pipelines()[0].removed_by_aws);
    assert_eq!(
        any_pipeline_state(&client, &other).await,
        Some(("MediaCapturePipeline", MediaPipelineStatus::InProgress))
    );

    // The failing switches: by meeting, and by pipeline (any kind).
    assert_eq!(emulator.fail_pipelines_of(&meeting(2)), 1);
    assert_eq!(
        any_pipeline_state(&client, &other).await,
        Some(("MediaCapturePipeline", MediaPipelineStatus::Failed))
    );
    emulator.set_concatenation_delay(Duration::from_secs(60));
    let running = concatenation_id(&client, &emulator.pipelines()[1].arn).await;
    let response = raw(
        &emulator,
        "POST",
        "/_emulator/pipelines/fail",
        None,
        &json!({ "identifier": running }).to_string(),
    )
    .await;
    assert_eq!(response.json(), json!({"failed": 1}));
    assert_eq!(
        any_pipeline_state(&client, &running).await,
        Some(("MediaConcatenationPipeline", MediaPipelineStatus::Failed))
    );
    // Only running pipelines fail: not the one AWS removed, nor one failed.
    assert_eq!(emulator.fail_pipeline(&id), 0);
    assert_eq!(emulator.fail_pipeline(&running), 0);
    assert_eq!(emulator.fail_pipeline(&concatenation), 1);
}

#[tokio::test]
async fn capture_and_concatenation_limits_faults_and_calls() {
    let (emulator, client) = start().await;
    emulator.set_region_limit("us-east-1", 1);
    // Each kind has its own limit.
    create_id(&client, &meeting(1)).await;
    let (_, capture_arn) = capture_id(&client, &meeting(1)).await;
    match capture(&client, &meeting(2))
        .send()
        .await
        .map_err(SdkError::into_service_error)
    {
        Err(CreateCaptureError::ResourceLimitExceededException(e)) => assert_eq!(
            e.message(),
            Some("The limit of 1 active media capture pipelines in us-east-1 has been reached")
        ),
        other => panic!("{other:?}"),
    }
    emulator.set_concatenation_delay(Duration::from_secs(60));
    concatenation_id(&client, &capture_arn).await;
    let err = concatenate(&client, &capture_arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            err,
            CreateConcatenationError::ResourceLimitExceededException(_)
        ),
        "{err:?}"
    );

    emulator
        .inject(Fault::new(FaultKind::Throttle, Trigger::Next(1)).on("CreateMediaCapturePipeline"));
    emulator.inject(
        Fault::new(FaultKind::Unavailable, Trigger::Next(1)).on("CreateMediaConcatenationPipeline"),
    );
    let err = capture(&client, &meeting(3))
        .client_request_token("throttled")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, CreateCaptureError::ThrottledClientException(_)),
        "{err:?}"
    );
    let err = concatenate(&client, &capture_arn)
        .client_request_token("unavailable")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            err,
            CreateConcatenationError::ServiceUnavailableException(_)
        ),
        "{err:?}"
    );
    // Logged with their tokens (the SDK makes one up when none is given).
    let calls: Vec<(String, Option<u16>, Option<String>)> = emulator
        .calls()
        .into_iter()
        .filter(|c| c.operation != "CreateMediaStreamPipeline")
        .map(|c| (c.operation, c.status, c.subject))
        .collect();
    let statuses: Vec<(&str, Option<u16>)> = calls
        .iter()
        .map(|(op, status, _)| (op.as_str(), *status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("CreateMediaCapturePipeline", Some(201)),
            ("CreateMediaCapturePipeline", Some(400)),
            ("CreateMediaConcatenationPipeline", Some(201)),
            ("CreateMediaConcatenationPipeline", Some(400)),
            ("CreateMediaCapturePipeline", Some(429)),
            ("CreateMediaConcatenationPipeline", Some(503)),
        ]
    );
    assert!(calls.iter().all(|(_, _, subject)| subject.is_some()));
    assert_eq!(calls[4].2.as_deref(), Some("throttled"));
    assert_eq!(calls[5].2.as_deref(), Some("unavailable"));
    assert_eq!(emulator.call_count("CreateMediaCapturePipeline"), 3);
    assert_eq!(emulator.call_count("CreateMediaConcatenationPipeline"), 3);
}

// ----- the event queue (SQS) and Chime's EventBridge events ---------------

mod events {
    use std::collections::HashSet;

    use aws_sdk_sqs::error::ProvideErrorMetadata as _;
    use aws_sdk_sqs::operation::delete_message::DeleteMessageError;
    use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
    use aws_sdk_sqs::operation::receive_message::ReceiveMessageError;
    use aws_sdk_sqs::operation::receive_message::builders::ReceiveMessageFluentBuilder as ReceiveBuilder;
    use aws_sdk_sqs::operation::send_message::SendMessageError;
    use aws_sdk_sqs::types::{
        DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
    };
    use testworld::emulator::{EventChaos, sqs_client};

    use super::*;

    type Sqs = aws_sdk_sqs::Client;

    /// An emulator publishing events, its Chime and SQS clients, the queue URL.
    async fn start_events(config: EmulatorConfig) -> (Emulator, Client, Sqs, String) {
        let (emulator, client) = start_with(EmulatorConfig {
            events: true,
            ..config
        })
        .await;
        let sqs = sqs_client(&emulator.endpoint_url(), "us-east-1").await;
        let url = emulator.queue_url();
        (emulator, client, sqs, url)
    }

    /// The SQS error a ReceiveMessage is refused with.
    async fn receive_refused(builder: ReceiveBuilder) -> ReceiveMessageError {
        builder.send().await.unwrap_err().into_service_error()
    }

    async fn delete(sqs: &Sqs, url: &str, handle: &str) {
        sqs.delete_message()
            .queue_url(url)
            .receipt_handle(handle)
            .send()
            .await
            .unwrap();
    }

    async fn receive(sqs: &Sqs, url: &str, wait: i32) -> Vec<Message> {
        sqs.receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    }

    /// Receives and deletes until `n` messages came, or 5 s passed.
    async fn drain(sqs: &Sqs, url: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut bodies = Vec::new();
        while bodies.len() < n && Instant::now() < deadline {
            for m in receive(sqs, url, 1).await {
                delete(sqs, url, m.receipt_handle().unwrap()).await;
                bodies.push(serde_json::from_str(m.body().unwrap()).unwrap());
            }
        }
        bodies
    }

    async fn attribute(sqs: &Sqs, url: &str, name: QueueAttributeName) -> String {
        let out = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(name.clone())
            .send()
            .await
            .unwrap();
        out.attributes().unwrap()[&name].clone()
    }

    fn meeting_id(arn: &str) -> &str {
        arn.rsplit_once('/').unwrap().1
    }

    /// The envelope EventBridge gives every event; returns its `detail`.
    fn check_envelope<'a>(event: &'a Value, detail_type: &str, event_type: &str) -> &'a Value {
        assert_eq!(event["version"], "0");
        assert!(uuid_like(event["id"].as_str().unwrap()), "{event}");
        assert_eq!(event["detail-type"], detail_type);
        assert_eq!(event["source"], "aws.chime");
        assert_eq!(event["account"], ACCOUNT);
        assert_eq!(event["region"], "us-east-1");
        assert_eq!(event["resources"], json!([]));
        let time = event["time"].as_str().unwrap();
        assert!(
            regex_like_rfc3339_seconds(time),
            "time {time} is not RFC 3339 to the second"
        );
        let detail = &event["detail"];
        assert_eq!(detail["version"], "0");
        assert_eq!(detail["eventType"], event_type);
        assert_eq!(detail["mediaRegion"], "us-east-1");
        let ms = detail["timestamp"].as_i64().unwrap();
        // `time` is `timestamp` cut to the second.
        let secs = time.parse::<jiff::Timestamp>().unwrap().as_second();
        assert_eq!(secs, ms.div_euclid(1000), "{event}");
        detail
    }

    fn uuid_like(s: &str) -> bool {
        s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    }

    /// `2026-05-01T12:00:00Z`
    fn regex_like_rfc3339_seconds(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 20
            && b[4] == b'-'
            && b[10] == b'T'
            && b[19] == b'Z'
            && s.chars()
                .enumerate()
                .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19) || c.is_ascii_digit())
    }

    fn of_type<'a>(events: &'a [Value], event_type: &str) -> Vec<&'a Value> {
        events
            .iter()
            .filter(|e| e["detail"]["eventType"] == event_type)
            .collect()
    }

    #[tokio::test]
    async fn long_poll_answers_when_an_event_arrives() {
        let (emulator, client, sqs, url) = start_events(EmulatorConfig {
            initializing_delay: Duration::from_millis(600),
            ..EmulatorConfig::default()
        })
        .await;
        assert_eq!(
            url,
            format!("{}/{ACCOUNT}/chime-events", emulator.endpoint_url())
        );
        let id = create_id(&client, &meeting(1)).await;

        let asked = Instant::now();
        let messages = receive(&sqs, &url, 10).await;
        let waited = asked.elapsed();
        assert_eq!(messages.len(), 1);
        // Answered when the pipeline became InProgress, not at the end of the wait.
        assert!(waited >= Duration::from_millis(400), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");

        let m = &messages[0];
        assert!(uuid_like(m.message_id().unwrap()));
        assert_eq!(m.md5_of_body().unwrap().len(), 32);
        let attributes = m.attributes().unwrap();
        assert_eq!(
            attributes[&MessageSystemAttributeName::ApproximateReceiveCount],
            "1"
        );
        let sent: i64 = attributes[&MessageSystemAttributeName::SentTimestamp]
            .parse()
            .unwrap();
        assert!((sent - jiff::Timestamp::now().as_millisecond()).abs() < 10_000);

        let event: Value = serde_json::from_str(m.body().unwrap()).unwrap();
        let detail = check_envelope(
            &event,
            "Chime Media Pipeline State Change",
            "chime:MediaPipelineInProgress",
        );
        assert_eq!(detail["mediaPipelineId"], id.as_str());
        assert_eq!(detail["meetingId"], meeting_id(&meeting(1)));
        assert_eq!(
            emulator.events_published()["chime:MediaPipelineInProgress"],
            1
        );
        assert_eq!(emulator.events().len(), 1);
        assert_eq!(emulator.sqs_call_count("ReceiveMessage"), 1);

        // Without messages, a short poll answers at once and empty.
        let asked = Instant::now();
        delete(&sqs, &url, m.receipt_handle().unwrap()).await;
        assert!(receive(&sqs, &url, 0).await.is_empty());
        assert!(asked.elapsed() < Duration::from_secs(1));
        // A long poll without events waits out its time.
        let asked = Instant::now();
        assert!(receive(&sqs, &url, 1).await.is_empty());
        assert!(asked.elapsed() >= Duration::from_millis(950));
    }

    #[tokio::test]
    async fn visibility_timeout_and_delete() {
        let (emulator, _client, sqs, url) = start_events(EmulatorConfig::default()).await;
        emulator.send_raw("not an event").unwrap();

        let first = sqs
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].body(), Some("not an event"));
        // In flight: not handed out again for now.
        assert!(receive(&sqs, &url, 0).await.is_empty());
        assert_eq!(
            attribute(
                &sqs,
                &url,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible
            )
            .await,
            "1"
        );
        assert_eq!(
            attribute(&sqs, &url, QueueAttributeName::ApproximateNumberOfMessages).await,
            "0"
        );

        // Not deleted: back after its visibility timeout, with a new handle.
        let again = receive(&sqs, &url, 5).await;
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].message_id(), first[0].message_id());
        assert_ne!(again[0].receipt_handle(), first[0].receipt_handle());
        assert_eq!(
            again[0].attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount],
            "2"
        );

        delete(&sqs, &url, again[0].receipt_handle().unwrap()).await;
        // Deleted: gone for good, and counted nowhere.
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0)
            .wait_time_seconds(2)
            .send()
            .await
            .unwrap();
        assert!(out.messages.is_none());
        for name in [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ] {
            assert_eq!(attribute(&sqs, &url, name).await, "0");
        }

        let err = sqs
            .delete_message()
            .queue_url(&url)
            .receipt_handle("forged")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(
            matches!(err, DeleteMessageError::ReceiptHandleIsInvalid(_)),
            "{err:?}"
        );

        // A batch deletes what it can and names what it could not.
        emulator.send_raw("a").unwrap();
        emulator.send_raw("b").unwrap();
        let got = receive(&sqs, &url, 0).await;
        assert_eq!(got.len(), 2);
        let entry = |id: &str, handle: &str| {
            DeleteMessageBatchRequestEntry::builder()
                .id(id)
                .receipt_handle(handle)
                .build()
                .unwrap()
        };
        let out = sqs
            .delete_message_batch()
            .queue_url(&url)
            .entries(entry("0", got[0].receipt_handle().unwrap()))
            .entries(entry("1", got[1].receipt_handle().unwrap()))
            .entries(entry("2", "forged"))
            .send()
            .await
            .unwrap();
        let ok: HashSet<&str> = out.successful().iter().map(|e| e.id()).collect();
        assert_eq!(ok, HashSet::from(["0", "1"]));
        assert_eq!(out.failed().len(), 1);
        assert_eq!(out.failed()[0].id(), "2");
        assert_eq!(out.failed()[0].code(), "ReceiptHandleIsInvalid");
        assert!(out.failed()[0].sender_fault());
        assert_eq!(emulator.sqs_call_count("DeleteMessageBatch"), 1);
    }

    #[tokio::test]
    async fn send_get_url_attributes_and_validation() {
        let (emulator, _client, sqs, url) = start_events(EmulatorConfig::default()).await;
        let out = sqs
            .get_queue_url()
            .queue_name("chime-events")
            .send()
            .await
            .unwrap();
        assert_eq!(out.queue_url(), Some(url.as_str()));
        let err = sqs
            .get_queue_url()
            .queue_name("other")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(
            matches!(err, GetQueueUrlError::QueueDoesNotExist(_)),
            "{err:?}"
        );

        let sent = sqs
            .send_message()
            .queue_url(&url)
            .message_body("abc")
            .send()
            .await
            .unwrap();
        assert_eq!(
            sent.md5_of_message_body(),
            Some("900150983cd24fb0d6963f7d28e17f72")
        );
        let got = receive(&sqs, &url, 0).await;
        assert_eq!(got[0].message_id(), sent.message_id());
        assert_eq!(
            got[0].md5_of_body(),
            Some("900150983cd24fb0d6963f7d28e17f72")
        );

        let out = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attributes = out.attributes().unwrap();
        assert_eq!(
            attributes[&QueueAttributeName::QueueArn],
            format!("arn:aws:sqs:us-east-1:{ACCOUNT}:chime-events")
        );
        assert_eq!(
            emulator.queue_arn(),
            attributes[&QueueAttributeName::QueueArn]
        );
        assert_eq!(attributes[&QueueAttributeName::VisibilityTimeout], "30");
        assert_eq!(
            attributes[&QueueAttributeName::ApproximateNumberOfMessagesNotVisible],
            "1"
        );

        let err = receive_refused(
            sqs.receive_message()
                .queue_url(&url)
                .max_number_of_messages(11),
        )
        .await;
        assert_eq!(err.code(), Some("InvalidParameterValue"));
        assert!(
            err.message().unwrap().contains("MaxNumberOfMessages"),
            "{err:?}"
        );
        let err =
            receive_refused(sqs.receive_message().queue_url(&url).wait_time_seconds(21)).await;
        assert_eq!(err.code(), Some("InvalidParameterValue"));

        // Injected faults reach SQS operations too, by name.
        emulator.inject(Fault::new(FaultKind::Throttle, Trigger::Next(1)).on("ReceiveMessage"));
        let err = receive_refused(sqs.receive_message().queue_url(&url)).await;
        assert!(
            matches!(err, ReceiveMessageError::RequestThrottled(_)),
            "{err:?}"
        );
        assert_eq!(emulator.sqs_call_count("ReceiveMessage"), 4);
        assert_eq!(emulator.sqs_call_count("SendMessage"), 1);
        assert_eq!(emulator.sqs_call_count("GetQueueUrl"), 2);
        let calls = emulator.calls();
        let last = calls.last().unwrap();
        assert_eq!(last.operation, "ReceiveMessage");
        assert_eq!(last.status, Some(400));
        assert_eq!(last.region.as_deref(), Some("us-east-1"));
    }

    #[tokio::test]
    async fn unavailable_queue_does_not_exist() {
        let (emulator, _client, sqs, url) = start_events(EmulatorConfig::default()).await;
        let wrong = url.replace("chime-events", "other-queue");
        let err = receive_refused(sqs.receive_message().queue_url(&wrong)).await;
        assert!(err.is_queue_does_not_exist(), "{err:?}");
        assert_eq!(err.code(), Some("AWS.SimpleQueueService.NonExistentQueue"));

        emulator.send_raw("before").unwrap();
        emulator.set_queue_available(false);
        let err = receive_refused(sqs.receive_message().queue_url(&url)).await;
        assert!(err.is_queue_does_not_exist(), "{err:?}");
        let err = sqs
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(
            matches!(err, SendMessageError::QueueDoesNotExist(_)),
            "{err:?}"
        );
        assert!(emulator.send_raw("lost").is_none());
        // An event published meanwhile is lost with the queue.
        emulator.end_meeting(&meeting(1));
        assert_eq!(emulator.events_published()["chime:MeetingEnded"], 1);

        emulator.set_queue_available(true);
        assert!(receive(&sqs, &url, 0).await.is_empty());
        emulator.end_meeting(&meeting(2));
        let bodies = drain(&sqs, &url, 1).await;
        assert_eq!(bodies.len(), 1);
        assert_eq!(bodies[0]["detail"]["meetingId"], meeting_id(&meeting(2)));
    }

    #[tokio::test]
    async fn chaos_drops_duplicates_delays_and_reorders() {
        let (emulator, client, sqs, url) = start_events(EmulatorConfig::default()).await;

        emulator.set_event_chaos(EventChaos {
            drop: 1.0,
            ..EventChaos::default()
        });
        let id = create_id(&client, &meeting(1)).await;
        assert!(receive(&sqs, &url, 1).await.is_empty());
        assert_eq!(
            emulator.events_published()["chime:MediaPipelineInProgress"],
            1
        );

        emulator.set_event_chaos(EventChaos {
            duplicate: 1.0,
            ..EventChaos::default()
        });
        assert_eq!(emulator.fail_pipeline(&id), 1);
        let bodies = drain(&sqs, &url, 2).await;
        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[0], bodies[1], "one event, twice");
        assert_eq!(
            bodies[0]["detail"]["eventType"],
            "chime:MediaPipelinePermanentFailure"
        );

        emulator.set_event_chaos(EventChaos {
            delay: Duration::from_millis(700),
            ..EventChaos::default()
        });
        let ended = Instant::now();
        emulator.end_meeting(&meeting(2));
        assert!(receive(&sqs, &url, 0).await.is_empty());
        assert_eq!(
            attribute(
                &sqs,
                &url,
                QueueAttributeName::ApproximateNumberOfMessagesDelayed
            )
            .await,
            "1"
        );
        assert_eq!(drain(&sqs, &url, 1).await.len(), 1);
        assert!(ended.elapsed() >= Duration::from_millis(650));

        // The same seed gives the same order on every run; ten events in
        // publication order would be a 1 in 10! chance.
        emulator.set_event_chaos(EventChaos {
            reorder: true,
            seed: 7,
            ..EventChaos::default()
        });
        let meetings: Vec<String> = (10..20).map(meeting).collect();
        for m in &meetings {
            emulator.end_meeting(m);
        }
        let received: Vec<String> = receive(&sqs, &url, 0)
            .await
            .iter()
            .map(|m| {
                let event: Value = serde_json::from_str(m.body().unwrap()).unwrap();
                event["detail"]["meetingId"].as_str().unwrap().to_owned()
            })
            .collect();
        let published: Vec<String> = meetings.iter().map(|m| meeting_id(m).to_owned()).collect();
        assert_ne!(received, published);
        let mut sorted = received.clone();
        sorted.sort();
        assert_eq!(sorted, published, "the same events, in another order");
    }

    #[tokio::test]
    async fn pipeline_events() {
        let (emulator, client, sqs, url) = start_events(EmulatorConfig {
            stopping_delay: Duration::ZERO,
            concatenation_delay: Duration::from_millis(100),
            ..EmulatorConfig::default()
        })
        .await;
        // A stream pipeline deleted by DeleteMediaPipeline.
        let deleted = create_id(&client, &meeting(1)).await;
        client
            .delete_media_pipeline()
            .media_pipeline_id(&deleted)
            .send()
            .await
            .unwrap();
        // A capture pipeline stopped with its meeting (Deleted once, even
        // when deleted after it stopped).
        let (capture, capture_arn) = capture_id(&client, &meeting(2)).await;
        // A concatenation, done on its own.
        let concatenation = concatenation_id(&client, &capture_arn).await;
        // Each InProgress, and the first one's Deleted.
        let events = drain(&sqs, &url, 4).await;
        assert_eq!(events.len(), 4, "{events:?}");
        emulator.end_meeting(&meeting(2));
        client
            .delete_media_pipeline()
            .media_pipeline_id(&capture)
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // MeetingEnded, the capture's and the concatenation's Deleted.
        let mut events = [events, drain(&sqs, &url, 3).await].concat();
        assert_eq!(events.len(), 7, "{events:?}");
        // Nothing more comes.
        assert!(receive(&sqs, &url, 1).await.is_empty());
        events.sort_by_key(|e| e["detail"]["timestamp"].as_i64());

        let pipeline = |event: &Value| {
            event["detail"]["mediaPipelineId"]
                .as_str()
                .map(str::to_owned)
        };
        let in_progress = of_type(&events, "chime:MediaPipelineInProgress");
        let started: HashSet<_> = in_progress.iter().filter_map(|e| pipeline(e)).collect();
        assert_eq!(
            started,
            HashSet::from([deleted.clone(), capture.clone(), concatenation.clone()])
        );
        let gone = of_type(&events, "chime:MediaPipelineDeleted");
        let gone_ids: Vec<_> = gone.iter().filter_map(|e| pipeline(e)).collect();
        assert_eq!(gone_ids.len(), 3, "{gone_ids:?}");
        assert_eq!(
            gone_ids.iter().collect::<HashSet<_>>(),
            HashSet::from([&deleted, &capture, &concatenation])
        );
        for event in in_progress.iter().chain(&gone) {
            let detail = check_envelope(
                event,
                "Chime Media Pipeline State Change",
                event["detail"]["eventType"].as_str().unwrap(),
            );
            let id = detail["mediaPipelineId"].as_str().unwrap();
            let expected = if id == deleted {
                Some(meeting(1))
            } else if id == capture {
                Some(meeting(2))
            } else {
                None
            };
            // A concatenation has no meeting, and its events no meetingId.
            assert_eq!(
                detail["meetingId"].as_str(),
                expected.as_deref().map(meeting_id),
                "{event}"
            );
        }
        let ended = of_type(&events, "chime:MeetingEnded");
        assert_eq!(ended.len(), 1);
        let detail = check_envelope(ended[0], "Chime Meeting State Change", "chime:MeetingEnded");
        assert_eq!(detail["meetingId"], meeting_id(&meeting(2)));
        let published = emulator.events_published();
        assert_eq!(published["chime:MediaPipelineInProgress"], 3);
        assert_eq!(published["chime:MediaPipelineDeleted"], 3);
        assert_eq!(published["chime:MeetingEnded"], 1);

        // Failures: permanent (the pipeline is Failed), temporary (it stays).
        let failing = create_id(&client, &meeting(3)).await;
        assert_eq!(emulator.fail_pipeline_temporarily(&failing), 1);
        assert_eq!(emulator.fail_pipeline(&failing), 1);
        let events = drain(&sqs, &url, 3).await;
        let types: Vec<&str> = events
            .iter()
            .map(|e| e["detail"]["eventType"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "chime:MediaPipelineInProgress",
                "chime:MediaPipelineTemporaryFailure",
                "chime:MediaPipelinePermanentFailure"
            ]
        );
        for event in &events {
            let event_type = event["detail"]["eventType"].as_str().unwrap();
            let detail = check_envelope(event, "Chime Media Pipeline State Change", event_type);
            assert_eq!(detail["mediaPipelineId"], failing.as_str());
        }
    }

    #[tokio::test]
    async fn pool_events() {
        let (emulator, client, sqs, url) = start_events(EmulatorConfig {
            initializing_delay: Duration::from_millis(50),
            pool_updating_delay: Duration::from_millis(50),
            pool_deleting_delay: Duration::from_millis(50),
            ..EmulatorConfig::default()
        })
        .await;
        create_pool(&client, "events-pool").await;
        let arn = pool_arn("us-east-1", "events-pool");
        let mut events = drain(&sqs, &url, 1).await;
        update_pool(&client, "events-pool", 24)
            .send()
            .await
            .unwrap();
        events.extend(drain(&sqs, &url, 1).await);
        client
            .delete_media_pipeline_kinesis_video_stream_pool()
            .identifier("events-pool")
            .send()
            .await
            .unwrap();
        events.extend(drain(&sqs, &url, 1).await);
        create_pool(&client, "failing-pool").await;
        events.extend(drain(&sqs, &url, 1).await);
        assert_eq!(emulator.fail_pool("failing-pool"), 1);
        events.extend(drain(&sqs, &url, 1).await);

        let expected = [
            (
                "chime:MediaPipelineKinesisVideoStreamPoolActive",
                arn.clone(),
            ),
            (
                "chime:MediaPipelineKinesisVideoStreamPoolUpdated",
                arn.clone(),
            ),
            ("chime:MediaPipelineKinesisVideoStreamPoolDeleted", arn),
            (
                "chime:MediaPipelineKinesisVideoStreamPoolActive",
                pool_arn("us-east-1", "failing-pool"),
            ),
            (
                "chime:MediaPipelineKinesisVideoStreamPoolPermanentFailure",
                pool_arn("us-east-1", "failing-pool"),
            ),
        ];
        assert_eq!(events.len(), expected.len(), "{events:?}");
        for (event, (event_type, arn)) in events.iter().zip(expected) {
            let detail = check_envelope(
                event,
                "Chime Media Pipeline Kinesis Video Pool State Change",
                event_type,
            );
            assert_eq!(detail["poolArn"], arn.as_str());
        }
    }

    #[tokio::test]
    async fn events_are_off_unless_asked_for() {
        let (emulator, client) = start().await;
        let sqs = sqs_client(&emulator.endpoint_url(), "us-east-1").await;
        let url = emulator.queue_url();
        create_id(&client, &meeting(1)).await;
        emulator.end_meeting(&meeting(1));
        assert!(receive(&sqs, &url, 0).await.is_empty());
        assert!(emulator.events_published().is_empty());
        // Turned on, they start with the changes from then on.
        emulator.set_events(true);
        emulator.end_meeting(&meeting(2));
        let events = drain(&sqs, &url, 1).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["detail"]["eventType"], "chime:MeetingEnded");
    }

    #[tokio::test]
    async fn admin_http_api_for_events() {
        let (emulator, client) = start().await;
        let sqs = sqs_client(&emulator.endpoint_url(), "us-east-1").await;
        let admin = |method: &'static str, path: &'static str, body: Value| {
            let emulator = &emulator;
            async move { raw(emulator, method, path, None, &body.to_string()).await }
        };
        let response = admin("PUT", "/_emulator/config", json!({"events": true})).await;
        assert_eq!(response.status, 204);
        let response = admin("PUT", "/_emulator/events/chaos", json!({"drop": 2})).await;
        assert_eq!(response.status, 400);
        let response = admin(
            "PUT",
            "/_emulator/events/chaos",
            json!({"duplicate": 1, "seed": 3}),
        )
        .await;
        assert_eq!(response.status, 204);

        let response = admin("GET", "/_emulator/queue", json!({})).await;
        assert_eq!(response.status, 200);
        let queue = response.json();
        let url = queue["queueUrl"].as_str().unwrap().to_owned();
        assert_eq!(url, emulator.queue_url());
        assert_eq!(queue["available"], true);

        let id = create_id(&client, &meeting(1)).await;
        let response = admin(
            "POST",
            "/_emulator/queue/messages",
            json!({"body": "{oops"}),
        )
        .await;
        assert_eq!(response.status, 200);
        assert!(response.json()["messageId"].is_string());
        let response = admin(
            "POST",
            "/_emulator/pipelines/temporary-failure",
            json!({"identifier": id}),
        )
        .await;
        assert_eq!(response.json()["failed"], 1);
        let response = admin("GET", "/_emulator/events", json!({})).await;
        let events = response.json();
        assert_eq!(events["published"]["chime:MediaPipelineInProgress"], 1);
        assert_eq!(
            events["published"]["chime:MediaPipelineTemporaryFailure"],
            1
        );
        assert_eq!(events["events"].as_array().unwrap().len(), 2);
        let queue = admin("GET", "/_emulator/queue", json!({})).await.json();
        // Two events, each twice, and the raw message.
        assert_eq!(queue["approximateNumberOfMessages"], 5);

        let response = admin(
            "POST",
            "/_emulator/queue/available",
            json!({"available": false}),
        )
        .await;
        assert_eq!(response.status, 204);
        let err = receive_refused(sqs.receive_message().queue_url(&url)).await;
        assert!(err.is_queue_does_not_exist(), "{err:?}");
        let response = admin("POST", "/_emulator/queue/messages", json!({"body": "x"})).await;
        assert_eq!(response.status, 409);
    }
}
