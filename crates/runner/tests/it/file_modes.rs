//! Files of a job that may hold secrets are readable by their owner only, whatever the umask:
//! the job's temporary directory (0700), the AWS web-identity token file, `BASH_ENV` and the
//! step's script (0600). The runner is started under `umask 000`, and a step reports the
//! modes it sees with `stat`.

use crate::support::*;

#[tokio::test]
async fn token_file_bash_env_and_scripts_are_owner_only_under_umask_000() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config(
        r#"
version: 2.1
jobs:
  modes:
    docker: [{image: x}]
    steps:
      - run: |
          echo 'export FROM_STEP=1' >> "$BASH_ENV"
          touch umask-control.txt
          {
            echo "directory=$(stat -c %a "$(dirname "$BASH_ENV")")"
            echo "bash_env=$(stat -c %a "$BASH_ENV")"
            echo "token_file=$(stat -c %a "$AWS_WEB_IDENTITY_TOKEN_FILE")"
            echo "script=$(stat -c %a "$0")"
            echo "control=$(stat -c %a umask-control.txt)"
          } > modes.txt
"#,
    );
    let template = runner_command(
        &project,
        &issuer,
        &[
            "--job",
            "modes",
            "--aws-role-arn",
            "arn:aws:iam::123456789012:role/x",
        ],
    );
    let template = template.as_std();
    let mut command = tokio::process::Command::new("/bin/sh");
    command
        .args(["-c", "umask 000 && exec \"$0\" \"$@\""])
        .arg(template.get_program())
        .args(template.get_args())
        .current_dir(project.path())
        .env_clear()
        .kill_on_drop(true);
    for (name, value) in template.get_envs() {
        if let Some(value) = value {
            command.env(name, value);
        }
    }
    let output = command.output().await.unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let modes = project.read_environment("modes.txt");
    assert_eq!(modes["control"], "666", "the step ran under umask 000");
    assert_eq!(modes["directory"], "700", "{modes:?}");
    assert_eq!(modes["bash_env"], "600", "{modes:?}");
    assert_eq!(modes["token_file"], "600", "{modes:?}");
    assert_eq!(modes["script"], "600", "{modes:?}");
}
