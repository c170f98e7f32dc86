//! RBAC as shipped, on a control plane with kube-controller-manager: the
//! aggregated ClusterRoles give `edit` and `view` users of a namespace the
//! pipelines there and nowhere else (impersonation); the operator's Lease
//! rights are a Role of its own namespace, with only the verbs it uses; and
//! deleting a namespace that holds pipelines removes them and their AWS
//! pipelines.

mod common;
mod shipped;

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use common::*;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding, RoleRef, Subject};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;
use shipped::{REPO, install_shipped_cluster_role, install_shipped_lease_role};
use testworld::TestEnv;

/// Installs deploy/base's aggregated ClusterRoles under names of this
/// test's, and waits until the built-in role `into` has picked up theirs.
async fn install_aggregated_roles(env: &TestEnv) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(format!("{REPO}/deploy/base/aggregate-roles.yaml"))?;
    let roles: Api<ClusterRole> = Api::all(env.client.clone());
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let mut role: ClusterRole = serde::Deserialize::deserialize(doc)?;
        let name = role
            .metadata
            .name
            .clone()
            .context("ClusterRole without a name")?;
        role.metadata.name = Some(format!("{}-{name}", env.namespace));
        roles.create(&PostParams::default(), &role).await?;
    }
    // The aggregation controller copies the rules into `edit` and `view`.
    let deadline = Instant::now() + Duration::from_secs(60);
    for builtin in ["edit", "view"] {
        loop {
            let rules = roles.get(builtin).await?.rules.unwrap_or_default();
            if rules.iter().any(|r| {
                r.resources
                    .as_ref()
                    .is_some_and(|res| res.iter().any(|x| x == "mediastreampipelines"))
            }) {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "`{builtin}` never aggregated the pipelines' rules"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Binds the built-in ClusterRole `role` to user `user` in `env`'s namespace.
async fn bind(env: &TestEnv, role: &str, user: &str) -> anyhow::Result<()> {
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some(format!("{role}-{user}")),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(vec![Subject {
            kind: "User".into(),
            name: user.into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Default::default()
        }]),
    };
    env.api::<RoleBinding>()
        .create(&PostParams::default(), &binding)
        .await?;
    Ok(())
}

/// The admin's client, impersonating `user` (who is in no group but
/// system:authenticated).
async fn as_user(env: &TestEnv, user: &str) -> anyhow::Result<kube::Client> {
    let kubeconfig = Kubeconfig::read_from(&env.kubeconfig)?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    config.auth_info.impersonate = Some(user.into());
    Ok(kube::Client::try_from(config)?)
}

fn forbidden<T: std::fmt::Debug>(what: &str, r: Result<T, kube::Error>) -> anyhow::Result<()> {
    match r {
        Err(kube::Error::Api(e)) if e.code == 403 => Ok(()),
        other => bail!("{what} was not refused: {other:?}"),
    }
}

fn pipeline(name: &str) -> anyhow::Result<chime_pipeline_operator::crd::MediaStreamPipeline> {
    Ok(chime_pipeline_operator::crd::MediaStreamPipeline {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: spec_json(name, json!({})),
        status: None,
    })
}

#[tokio::test]
async fn edit_users_manage_pipelines_in_their_namespace_and_view_users_only_read()
-> anyhow::Result<()> {
    let env = TestEnv::new("rbac-edit").await?;
    let elsewhere = TestEnv::new("rbac-elsewhere").await?;
    install_aggregated_roles(&env).await?;
    let (alice, bob) = (
        format!("alice-{}", env.namespace),
        format!("bob-{}", env.namespace),
    );
    bind(&env, "edit", &alice).await?;
    bind(&env, "view", &bob).await?;
    let pp = PostParams::default();

    let alice_c = as_user(&env, &alice).await?;
    let mine: Api<chime_pipeline_operator::crd::MediaStreamPipeline> =
        Api::namespaced(alice_c.clone(), &env.namespace);
    mine.create(&pp, &pipeline("by-alice")?).await?;
    assert_eq!(mine.list(&Default::default()).await?.items.len(), 1);
    mine.get("by-alice").await?;
    let pools: Api<chime_pipeline_operator::crd::MediaPipelineKinesisVideoStreamPool> =
        Api::namespaced(alice_c.clone(), &env.namespace);
    pools.list(&Default::default()).await?;
    // Status is the operator's.
    forbidden(
        "edit patching status",
        mine.patch_status(
            "by-alice",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"mediaPipelineId": "x"}})),
        )
        .await,
    )?;
    let theirs: Api<chime_pipeline_operator::crd::MediaStreamPipeline> =
        Api::namespaced(alice_c.clone(), &elsewhere.namespace);
    forbidden(
        "edit creating in another namespace",
        theirs.create(&pp, &pipeline("x")?).await,
    )?;
    forbidden(
        "edit listing another namespace",
        theirs.list(&Default::default()).await,
    )?;

    let bob_c = as_user(&env, &bob).await?;
    let seen: Api<chime_pipeline_operator::crd::MediaStreamPipeline> =
        Api::namespaced(bob_c.clone(), &env.namespace);
    assert_eq!(seen.list(&Default::default()).await?.items.len(), 1);
    seen.get("by-alice").await?;
    forbidden(
        "view creating",
        seen.create(&pp, &pipeline("by-bob")?).await,
    )?;
    forbidden(
        "view patching",
        seen.patch(
            "by-alice",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"deletionPolicy": "Retain"}})),
        )
        .await,
    )?;
    forbidden(
        "view deleting",
        seen.delete("by-alice", &DeleteParams::default()).await,
    )?;
    let seen_elsewhere: Api<chime_pipeline_operator::crd::MediaStreamPipeline> =
        Api::namespaced(bob_c, &elsewhere.namespace);
    forbidden(
        "view listing another namespace",
        seen_elsewhere.list(&Default::default()).await,
    )?;

    // No operator runs here: deleting leaves no finalizer to wait for.
    mine.delete("by-alice", &DeleteParams::default()).await?;
    ensure!(
        mine.get_opt("by-alice").await?.is_none(),
        "by-alice still there"
    );
    eprintln!("rbac: edit creates, reads, deletes in its namespace only; view only reads");
    Ok(())
}

/// The operator's identity (shipped ClusterRole + the Lease Role of its
/// namespace) may create, read and patch its own Lease there, and nothing
/// else about Leases: no update, no other Lease's name, no other namespace.
#[tokio::test]
async fn the_operator_may_touch_only_its_own_lease_in_its_namespace() -> anyhow::Result<()> {
    let env = TestEnv::new("rbac-lease").await?;
    let other = TestEnv::new("rbac-lease-other").await?;
    let role = install_shipped_cluster_role(&env).await?;
    install_shipped_lease_role(&env).await?;
    let op = env.client_bound_to_cluster_role(&role).await?;
    let lease = |name: &str| Lease {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: None,
    };
    let pp = PostParams::default();
    let patch = Patch::Merge(json!({"spec": {"holderIdentity": "me"}}));
    let own: Api<Lease> = Api::namespaced(op.clone(), &env.namespace);
    own.create(&pp, &lease("chime-pipeline-operator")).await?;
    own.get("chime-pipeline-operator").await?;
    own.patch("chime-pipeline-operator", &PatchParams::default(), &patch)
        .await?;
    let current = own.get("chime-pipeline-operator").await?;
    forbidden(
        "update (PUT) of its Lease",
        own.replace("chime-pipeline-operator", &pp, &current).await,
    )?;
    forbidden("listing Leases", own.list(&Default::default()).await)?;
    forbidden(
        "deleting its Lease",
        own.delete("chime-pipeline-operator", &DeleteParams::default())
            .await,
    )?;

    // Another Lease of its namespace (the admin made it).
    env.api::<Lease>()
        .create(&pp, &lease("someone-else"))
        .await?;
    forbidden("reading another Lease", own.get("someone-else").await)?;
    forbidden(
        "patching another Lease",
        own.patch("someone-else", &PatchParams::default(), &patch)
            .await,
    )?;

    // The same name in another namespace.
    other
        .api::<Lease>()
        .create(&pp, &lease("chime-pipeline-operator"))
        .await?;
    let theirs: Api<Lease> = Api::namespaced(op, &other.namespace);
    forbidden(
        "patching a Lease in another namespace",
        theirs
            .patch("chime-pipeline-operator", &PatchParams::default(), &patch)
            .await,
    )?;
    forbidden(
        "creating a Lease in another namespace",
        theirs.create(&pp, &lease("x")).await,
    )?;
    eprintln!("rbac: the operator's Lease rights end at its own Lease in its own namespace");
    Ok(())
}

/// Deleting a namespace that holds pipelines (the namespace controller of
/// kube-controller-manager deletes them) deletes their AWS pipelines, and
/// then the namespace goes.
#[tokio::test]
async fn deleting_a_namespace_deletes_its_pipelines_and_their_aws_pipelines() -> anyhow::Result<()>
{
    let h = Harness::start("rbac-nsdelete").await?;
    let mut uids = vec![];
    for i in 0..3 {
        uids.push(uid(&h
            .create(&format!("p{i}"), spec_json(&format!("m-ns{i}"), json!({})))
            .await?)?);
    }
    for i in 0..3 {
        h.wait_ready(&format!("p{i}")).await?;
    }
    let namespaces: Api<Namespace> = Api::all(h.env.client.clone());
    namespaces
        .delete(&h.env.namespace, &DeleteParams::default())
        .await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while namespaces.get_opt(&h.env.namespace).await?.is_some() {
        ensure!(
            Instant::now() < deadline,
            "the namespace is still there after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pipelines = h.emulator.pipelines();
    assert_eq!(pipelines.len(), 3);
    assert!(pipelines.iter().all(|p| p.deleted), "{pipelines:?}");
    h.assert_one_pipeline_per_uid(&uids);
    eprintln!("rbac: namespace deletion removed 3 pipelines and their 3 AWS pipelines");
    Ok(())
}
