// Preloaded with `--import` (NODE_OPTIONS may not carry --cpu-prof): profiles the whole life of
// a Node process and writes a V8 .cpuprofile into $DT_BENCH_PROFILE_DIR when it exits, named
// after its role: dt-master, dt-client, writer, echo, or the script's name.
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

const dir = process.env.DT_BENCH_PROFILE_DIR;
const args = process.argv.slice(1);
const script = path.basename(args[0] ?? 'node', '.mjs');
const role = args.includes('--internal-master') ? 'dt-master' : script === 'dt' ? `dt-client${args[1] ?? ''}` : script;
// DT_BENCH_PROFILE_ROLES=dt-master,dt-client-a: profile only these roles.
const roles = process.env.DT_BENCH_PROFILE_ROLES?.split(',');
if (dir && (!roles || roles.includes(role))) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('exit', () => {
    // An in-thread inspector session answers synchronously, so this works inside 'exit'.
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      fs.writeFileSync(path.join(dir, `${role}.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
