import type { ComponentChildren } from 'preact';
import { useLocation } from 'preact-iso';

const LINKS: [string, string][] = [
  ['/ui/', 'Signatures'],
  ['/ui/runs', 'Runs'],
  ['/ui/campaigns', 'Campaigns'],
];

export function Layout({ children }: { children: ComponentChildren }) {
  const { path } = useLocation();
  const active = (href: string) =>
    href === '/ui/'
      ? path === '/ui' || path === '/ui/' || path.startsWith('/ui/signatures')
      : path.startsWith(href);
  return (
    <>
      <header class="top">
        <a class="brand" href="/ui/">
          mnsim
        </a>
        <nav>
          {LINKS.map(([href, label]) => (
            <a key={href} href={href} class={active(href) ? 'active' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <a class="signout" href="/ui/sign-out" target="_top">
          Sign out
        </a>
      </header>
      <main>{children}</main>
    </>
  );
}
