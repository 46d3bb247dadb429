//! Queries for pipelines, workflows and jobs. A job's secret is stored as its SHA-256 digest.

use keyless_claims::{JobId, NumericDate, OrgId, PipelineId, ProjectId, WorkflowId};
use rusqlite::{Row, params};

use super::{Tx, optional, parse_column};
use crate::error::{PlatformError, PlatformResult};
use crate::model::{Job, JobStatus, Refusal, Vcs};

/// A workflow as a new job joining it needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRecord {
    /// The workflow.
    pub id: WorkflowId,
    /// Its name.
    pub name: String,
    /// Its pipeline.
    pub pipeline_id: PipelineId,
    /// The project the pipeline belongs to.
    pub project_id: ProjectId,
}

const JOB_SELECT: &str = "SELECT jobs.id, projects.org_id, jobs.project_id, jobs.user_id,
        pipelines.id, pipelines.number, projects.pipeline_definition_id, workflows.id,
        workflows.name, jobs.name, jobs.build_num, jobs.context_ids, jobs.vcs, jobs.fork,
        jobs.ssh_rerun, jobs.refusal, jobs.status, jobs.started_at, jobs.finished_at,
        jobs.secret_sha256
    FROM jobs JOIN workflows ON workflows.id = jobs.workflow_id
        JOIN pipelines ON pipelines.id = workflows.pipeline_id
        JOIN projects ON projects.id = jobs.project_id";

/// The raw columns of [`JOB_SELECT`].
struct JobRow {
    text: [String; 9],
    numbers: [i64; 2],
    context_ids: String,
    vcs: Option<String>,
    flags: [bool; 2],
    refusal: Option<String>,
    status: String,
    started_at: i64,
    finished_at: Option<i64>,
    secret_sha256: Vec<u8>,
}

fn job_row(row: &Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        text: [
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(6)?,
            row.get(7)?,
            row.get(8)?,
            row.get(9)?,
        ],
        numbers: [row.get(5)?, row.get(10)?],
        context_ids: row.get(11)?,
        vcs: row.get(12)?,
        flags: [row.get(13)?, row.get(14)?],
        refusal: row.get(15)?,
        status: row.get(16)?,
        started_at: row.get(17)?,
        finished_at: row.get(18)?,
        secret_sha256: row.get(19)?,
    })
}

fn json_column<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> PlatformResult<T> {
    serde_json::from_str(text)
        .map_err(|error| PlatformError::internal(format!("stored {what} is malformed: {error}")))
}

fn json_text<T: serde::Serialize>(value: &T) -> PlatformResult<String> {
    serde_json::to_string(value).map_err(|error| PlatformError::internal(error.to_string()))
}

fn job_from(row: JobRow) -> PlatformResult<(Job, Vec<u8>)> {
    let [
        id,
        org,
        project,
        user,
        pipeline,
        definition,
        workflow,
        workflow_name,
        name,
    ] = row.text;
    let job = Job {
        id: parse_column(&id, "job id")?,
        org_id: parse_column(&org, "org id")?,
        project_id: parse_column(&project, "project id")?,
        user_id: parse_column(&user, "user id")?,
        pipeline_id: parse_column(&pipeline, "pipeline id")?,
        pipeline_number: row.numbers[0],
        pipeline_definition_id: parse_column(&definition, "pipeline definition id")?,
        workflow_id: parse_column(&workflow, "workflow id")?,
        workflow_name,
        name,
        build_num: row.numbers[1],
        context_ids: json_column(&row.context_ids, "context ids")?,
        vcs: row
            .vcs
            .map(|text| json_column::<Vcs>(&text, "vcs"))
            .transpose()?,
        fork: row.flags[0],
        ssh_rerun: row.flags[1],
        refusal: row
            .refusal
            .map(|text| json_column::<Refusal>(&text, "refusal"))
            .transpose()?,
        status: JobStatus::parse(&row.status)
            .ok_or_else(|| PlatformError::internal(format!("stored status {:?}", row.status)))?,
        started_at: NumericDate::from_seconds(row.started_at),
        finished_at: row.finished_at.map(NumericDate::from_seconds),
    };
    Ok((job, row.secret_sha256))
}

impl Tx<'_> {
    /// Creates a pipeline with the project's next number; returns the number.
    pub fn insert_pipeline(
        &self,
        id: &PipelineId,
        project: &ProjectId,
        now: NumericDate,
    ) -> PlatformResult<i64> {
        let number: i64 = self.connection().query_row(
            "UPDATE projects SET last_pipeline_number = last_pipeline_number + 1 WHERE id = ?1
             RETURNING last_pipeline_number",
            [project.to_string()],
            |row| row.get(0),
        )?;
        self.connection().execute(
            "INSERT INTO pipelines (id, project_id, number, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![id.to_string(), project.to_string(), number, now.seconds()],
        )?;
        Ok(number)
    }

    /// The number of a pipeline.
    pub fn pipeline_number(&self, id: &PipelineId) -> PlatformResult<i64> {
        Ok(self.connection().query_row(
            "SELECT number FROM pipelines WHERE id = ?1",
            [id.to_string()],
            |row| row.get(0),
        )?)
    }

    /// Creates a workflow in a pipeline.
    pub fn insert_workflow(
        &self,
        id: &WorkflowId,
        pipeline: &PipelineId,
        name: &str,
        now: NumericDate,
    ) -> PlatformResult<()> {
        self.connection().execute(
            "INSERT INTO workflows (id, pipeline_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![id.to_string(), pipeline.to_string(), name, now.seconds()],
        )?;
        Ok(())
    }

    /// The workflow with this id.
    pub fn workflow(&self, id: &WorkflowId) -> PlatformResult<Option<WorkflowRecord>> {
        let row = optional(self.connection().query_row(
            "SELECT workflows.name, pipelines.id, pipelines.project_id FROM workflows
             JOIN pipelines ON pipelines.id = workflows.pipeline_id WHERE workflows.id = ?1",
            [id.to_string()],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            },
        ))?;
        row.map(|(name, pipeline, project)| {
            Ok(WorkflowRecord {
                id: *id,
                name,
                pipeline_id: parse_column(&pipeline, "pipeline id")?,
                project_id: parse_column(&project, "project id")?,
            })
        })
        .transpose()
    }

    /// The project's next build number.
    pub fn next_build_num(&self, project: &ProjectId) -> PlatformResult<i64> {
        Ok(self.connection().query_row(
            "UPDATE projects SET last_build_num = last_build_num + 1 WHERE id = ?1
             RETURNING last_build_num",
            [project.to_string()],
            |row| row.get(0),
        )?)
    }

    /// Records a started job with the digest of its secret.
    pub fn insert_job(&self, job: &Job, secret_sha256: &[u8]) -> PlatformResult<()> {
        self.connection().execute(
            "INSERT INTO jobs (id, workflow_id, project_id, user_id, name, build_num,
                 secret_sha256, context_ids, vcs, fork, ssh_rerun, refusal, status, started_at,
                 finished_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                job.id.to_string(),
                job.workflow_id.to_string(),
                job.project_id.to_string(),
                job.user_id.to_string(),
                job.name,
                job.build_num,
                secret_sha256,
                json_text(&job.context_ids)?,
                job.vcs.as_ref().map(json_text).transpose()?,
                job.fork,
                job.ssh_rerun,
                job.refusal.as_ref().map(json_text).transpose()?,
                job.status.as_str(),
                job.started_at.seconds(),
                job.finished_at.map(NumericDate::seconds)
            ],
        )?;
        Ok(())
    }

    /// The job with this id and the digest of its secret.
    pub fn job(&self, id: &JobId) -> PlatformResult<Option<(Job, Vec<u8>)>> {
        let sql = format!("{JOB_SELECT} WHERE jobs.id = ?1");
        // Cached: every mint looks its job up.
        let mut statement = self.connection().prepare_cached(&sql)?;
        let row = optional(statement.query_row([id.to_string()], job_row))?;
        row.map(job_from).transpose()
    }

    /// A job's status alone (`None` for no such job): what minting re-checks as it commits,
    /// without re-reading the whole job.
    pub fn job_status(&self, id: &JobId) -> PlatformResult<Option<JobStatus>> {
        let mut statement = self
            .connection()
            .prepare_cached("SELECT status FROM jobs WHERE id = ?1")?;
        let status =
            optional(statement.query_row([id.to_string()], |row| row.get::<_, String>(0)))?;
        status
            .map(|status| {
                JobStatus::parse(&status)
                    .ok_or_else(|| PlatformError::internal(format!("stored status {status:?}")))
            })
            .transpose()
    }

    /// The most recent jobs, optionally of one org, newest first.
    pub fn jobs(&self, org: Option<&OrgId>, limit: u32) -> PlatformResult<Vec<Job>> {
        let sql = format!(
            "{JOB_SELECT} WHERE ?1 IS NULL OR projects.org_id = ?1
             ORDER BY jobs.started_at DESC, jobs.rowid DESC LIMIT ?2"
        );
        let mut statement = self.connection().prepare(&sql)?;
        let rows = statement.query_map(params![org.map(ToString::to_string), limit], job_row)?;
        rows.map(|row| Ok(job_from(row?)?.0)).collect()
    }

    /// Marks a running job finished; whether it was running.
    pub fn finish_job(
        &self,
        id: &JobId,
        status: JobStatus,
        now: NumericDate,
    ) -> PlatformResult<bool> {
        let changed = self.connection().execute(
            "UPDATE jobs SET status = ?2, finished_at = ?3 WHERE id = ?1 AND status = 'running'",
            params![id.to_string(), status.as_str(), now.seconds()],
        )?;
        Ok(changed > 0)
    }
}
